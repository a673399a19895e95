//! End-to-end tests and fixture crates for cargo-migrate.
//!
//! The library embeds this repository's example history (`migrations/`) with
//! migrate-build, exactly as an application would.

pub mod support;

use migrate_history::embed::EmbeddedHistory;

/// The example history of a small startup-directory application.
pub static EXAMPLE_HISTORY: EmbeddedHistory = migrate_history::include_history!();

#[cfg(test)]
mod tests {
    use super::EXAMPLE_HISTORY;

    #[test]
    fn example_history_has_a_branch_and_a_merge() {
        let history = EXAMPLE_HISTORY.to_history().expect("validated by the build script");
        assert!(history.len() >= 6);
        assert_eq!(history.heads().len(), 1);
        assert!((0..history.len()).any(|i| history.is_branch_point(i)));
        assert!((0..history.len()).any(|i| history.is_merge_point(i)));
        let revisions = EXAMPLE_HISTORY.revisions();
        let first = &revisions[0];
        assert_eq!(first.message, "create users");
        assert!(first.up_sql().contains("CREATE TABLE users"));
        assert_eq!(first.down_sql().map(str::trim), Some("DROP TABLE users;"));
    }
}
