//! New revision files, from `migrations/template.sql` or the built-in template
//! (Alembic's `script.py.mako`).

/// The template's name inside the migrations directory.
pub const TEMPLATE_FILE_NAME: &str = "template.sql";

/// The built-in template. Placeholders: `${revision}`, `${parents}`,
/// `${message}`, `${created}`, `${branch_labels}`, `${depends_on}`, `${up}`, `${down}`.
pub const DEFAULT_TEMPLATE: &str = "\
-- revision: ${revision}
-- parents: ${parents}
-- message: ${message}
-- created: ${created}

-- migrate:up
${up}

-- migrate:down
${down}
";

/// The values a new revision is rendered with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRevision {
    pub id: String,
    pub parents: Vec<String>,
    pub message: String,
    pub created: String,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    /// SQL for the up section (empty for a hand-written revision).
    pub up: String,
    /// SQL for the down section.
    pub down: String,
}

/// Fills a template. Header values a template has no placeholder for
/// (`branch-labels`, `depends-on`) are added as header lines after the last
/// header line, so that any template can express every revision. A
/// byte-order mark at the template's start is dropped: the new file starts
/// with its header.
pub fn render(template: &str, new: &NewRevision) -> String {
    let template = crate::strip_bom(template);
    let pairs = [
        ("${revision}", new.id.clone()),
        ("${parents}", new.parents.join(", ")),
        ("${message}", new.message.replace(['\n', '\r'], " ")),
        ("${created}", new.created.clone()),
        ("${branch_labels}", new.branch_labels.join(", ")),
        ("${depends_on}", new.depends_on.join(", ")),
        ("${up}", new.up.trim_end().to_owned()),
        ("${down}", new.down.trim_end().to_owned()),
    ];
    let mut text = template.to_owned();
    for (placeholder, value) in &pairs {
        text = text.replace(placeholder, value);
    }
    let mut extra = String::new();
    if !new.branch_labels.is_empty() && !template.contains("${branch_labels}") {
        extra.push_str(&format!("-- branch-labels: {}\n", pairs[4].1));
    }
    if !new.depends_on.is_empty() && !template.contains("${depends_on}") {
        extra.push_str(&format!("-- depends-on: {}\n", pairs[5].1));
    }
    if !extra.is_empty() {
        let header_end: usize = text
            .split_inclusive('\n')
            .take_while(|line| line.starts_with("-- ") && line.contains(':') && !line.contains("migrate:"))
            .map(str::len)
            .sum();
        text.insert_str(header_end, &extra);
    }
    text
}

/// A file-name slug of a message, as Alembic makes them: lowercase words
/// joined by `_`, at most 40 characters.
pub fn slug(message: &str) -> String {
    let mut slug = String::new();
    for word in message.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if slug.len() + word.len() + 1 > 40 && !slug.is_empty() {
            break;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    slug.truncate(40);
    slug
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SourceFile, parse_revision};

    fn new() -> NewRevision {
        NewRevision {
            id: "3f2a9c1b7e4d".into(),
            parents: vec!["a1".into(), "b2".into()],
            message: "add user profile table".into(),
            created: "2026-11-23T10:15:00Z".into(),
            branch_labels: vec!["profiles".into()],
            depends_on: vec!["c3".into()],
            up: String::new(),
            down: String::new(),
        }
    }

    #[test]
    fn default_template_parses_back() {
        let text = render(DEFAULT_TEMPLATE, &new());
        let rev = parse_revision(SourceFile::new("x.sql", text.clone())).unwrap();
        assert_eq!(rev.id, "3f2a9c1b7e4d");
        assert_eq!(rev.parents, ["a1", "b2"]);
        assert_eq!(rev.branch_labels, ["profiles"]);
        assert_eq!(rev.depends_on, ["c3"]);
        assert!(rev.is_reversible());
        assert!(text.starts_with("-- revision: 3f2a9c1b7e4d\n-- parents: a1, b2\n"), "{text}");
    }

    #[test]
    fn a_template_with_a_bom_renders_without_it() {
        let text = render(&format!("\u{feff}{DEFAULT_TEMPLATE}"), &new());
        assert!(text.starts_with("-- revision: 3f2a9c1b7e4d\n"), "{text}");
        let rev = parse_revision(SourceFile::new("x.sql", text)).unwrap();
        assert_eq!((rev.branch_labels, rev.depends_on), (vec!["profiles".to_owned()], vec!["c3".to_owned()]));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Add user profile table!"), "add_user_profile_table");
        assert_eq!(slug("  "), "");
        assert!(slug(&"word ".repeat(30)).len() <= 40);
    }
}
