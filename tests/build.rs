//! Validates and embeds this repository's example history (`../migrations`),
//! so a plain `cargo build` at the root refuses a broken one.
fn main() {
    migrate_build::embed();
}
