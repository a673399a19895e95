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
    /// The new revision's id (`${revision}`).
    pub id: String,
    /// Its parents' ids, written comma-separated (`${parents}`); empty for a base.
    pub parents: Vec<String>,
    /// What the revision does (`${message}`).
    pub message: String,
    /// When it was created, as written into the header (`${created}`).
    pub created: String,
    /// Its branch labels (`${branch_labels}`).
    pub branch_labels: Vec<String>,
    /// Revisions it depends on without being their child (`${depends_on}`).
    pub depends_on: Vec<String>,
    /// SQL for the up section (empty for a hand-written revision).
    pub up: String,
    /// SQL for the down section.
    pub down: String,
    /// Runs outside a transaction: a `-- transaction: false` header line.
    pub no_transaction: bool,
}

/// Fills a template: each `${name}` placeholder of the template is replaced
/// once, in one pass, and the values are never scanned for placeholders (a
/// message may say `${created}`). Header values are kept on their line: a
/// control character in one becomes a space (the CLI refuses such messages
/// first). Header values a template has no placeholder for
/// (`branch-labels`, `depends-on`) are added as header lines after the
/// template's last header line, so that any template can express every
/// revision. A byte-order mark at the template's start is dropped: the new
/// file starts with its header.
pub fn render(template: &str, new: &NewRevision) -> String {
    let template = crate::strip_bom(template);
    let one_line = |text: String| -> String {
        if crate::header_control_character(&text).is_some() { text.replace(is_forbidden, " ") } else { text }
    };
    let values = [
        ("revision", one_line(new.id.clone())),
        ("parents", one_line(new.parents.join(", "))),
        ("message", one_line(new.message.clone())),
        ("created", one_line(new.created.clone())),
        ("branch_labels", one_line(new.branch_labels.join(", "))),
        ("depends_on", one_line(new.depends_on.join(", "))),
        ("up", new.up.trim_end().to_owned()),
        ("down", new.down.trim_end().to_owned()),
    ];
    let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
    let mut extra = String::new();
    if !new.branch_labels.is_empty() && !template.contains("${branch_labels}") {
        extra.push_str(&format!("-- branch-labels: {}\n", values[4].1));
    }
    if !new.depends_on.is_empty() && !template.contains("${depends_on}") {
        extra.push_str(&format!("-- depends-on: {}\n", values[5].1));
    }
    if new.no_transaction {
        extra.push_str("-- transaction: false\n");
    }
    let header_end: usize = template
        .split_inclusive('\n')
        .take_while(|line| line.starts_with("-- ") && line.contains(':') && !line.contains("migrate:"))
        .map(str::len)
        .sum();
    let mut text = String::with_capacity(template.len() + new.up.len() + new.down.len() + 256);
    fill(&template[..header_end], &value, &mut text);
    text.push_str(&extra);
    fill(&template[header_end..], &value, &mut text);
    text
}

/// What [`crate::header_control_character`] finds.
fn is_forbidden(c: char) -> bool {
    crate::header_control_character(c.encode_utf8(&mut [0; 4])).is_some()
}

/// Appends `template` to `out` with each known `${name}` replaced by its value.
fn fill<'v>(template: &str, value: &impl Fn(&str) -> Option<&'v str>, out: &mut String) {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}').and_then(|end| Some((end, value(&after[..end])?))) {
            Some((end, filled)) => {
                out.push_str(filled);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
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
            no_transaction: false,
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
    fn values_are_never_expanded_again() {
        let mut revision = new();
        revision.message = "keep ${created} and ${up}".into();
        revision.up = "SELECT '${message}';".into();
        let text = render(DEFAULT_TEMPLATE, &revision);
        assert_eq!(
            text,
            "-- revision: 3f2a9c1b7e4d\n-- parents: a1, b2\n-- message: keep ${created} and ${up}\n\
             -- created: 2026-11-23T10:15:00Z\n-- branch-labels: profiles\n-- depends-on: c3\n\n\
             -- migrate:up\nSELECT '${message}';\n\n-- migrate:down\n\n"
        );
    }

    #[test]
    fn unknown_and_unclosed_placeholders_stay_as_written() {
        let text = render("-- revision: ${revision}\n-- note: ${nope} ${revision\n", &new());
        assert_eq!(
            text,
            "-- revision: 3f2a9c1b7e4d\n-- note: ${nope} ${revision\n-- branch-labels: profiles\n-- depends-on: c3\n"
        );
    }

    #[test]
    fn header_values_stay_on_their_line() {
        let mut revision = new();
        revision.message = "one\n-- parents: evil\rtwo\u{1b}[2J".into();
        let text = render(DEFAULT_TEMPLATE, &revision);
        assert!(text.contains("\n-- message: one -- parents: evil two [2J\n"), "{text}");
        assert_eq!(parse_revision(SourceFile::new("x.sql", text)).unwrap().parents, ["a1", "b2"]);
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Add user profile table!"), "add_user_profile_table");
        assert_eq!(slug("  "), "");
        assert!(slug(&"word ".repeat(30)).len() <= 40);
    }
}
