//! `dist/VERSION/`: the release's offline scripts and its manifest.
//!
//! - `upgrade-postgres.sql`, `upgrade-sqlite.sql`: from an empty database to
//!   the release;
//! - `upgrade-from-vPREV-postgres.sql`, `upgrade-from-vPREV-sqlite.sql`: from
//!   the previous release to this one (not for a first release);
//! - `manifest.toml`: the version, the tag and its heads, each revision's
//!   id, file and checksum, and each script's range and checksum.

use migrate_history::{Checksum, Config, Dialect, History, Plan, Range, Target};
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Table, value};

use super::runtime;
use super::version::Version;

/// What is being released.
#[derive(Debug)]
pub struct Release<'a> {
    pub version: &'a Version,
    pub tag: &'a str,
    /// History positions of the release's heads.
    pub heads: &'a [usize],
    /// The previous release's tag and heads.
    pub previous: Option<&'a (String, Vec<usize>)>,
}

/// One file of `dist/VERSION/`.
#[derive(Debug)]
pub struct DistFile {
    pub name: String,
    /// One line for the listing.
    pub description: String,
    pub text: String,
}

const DIALECTS: [(Dialect, &str); 2] = [(Dialect::Postgres, "postgres"), (Dialect::Sqlite, "sqlite")];

/// Every file of the release's directory, the manifest last.
pub fn files(history: &History, config: &Config, release: &Release<'_>) -> Result<Vec<DistFile>, String> {
    let nothing = vec![false; history.len()];
    let full = history.plan_upgrade(&nothing, release.heads);
    // The release's heads by id: its tag is not in the history yet.
    let to = || Some(Target::Revision(history.revision(release.heads[0]).id.clone()));
    let mut ranges = vec![("base".to_owned(), "upgrade".to_owned(), full, Range { from: None, to: to() })];
    if let Some((name, heads)) = release.previous {
        let plan = history.plan_upgrade(&history.ancestors(heads), release.heads);
        let range = Range { from: Some(Target::Tag(name.clone())), to: to() };
        ranges.push((name.clone(), format!("upgrade-from-{name}"), plan, range));
    }
    let mut files = Vec::new();
    let mut scripts = Table::new();
    for (from, stem, plan, range) in &ranges {
        for (dialect, token) in DIALECTS {
            let text = runtime::script(history, config, dialect, range)?;
            let name = format!("{stem}-{token}.sql");
            let mut entry = InlineTable::new();
            entry.insert("dialect", token.into());
            entry.insert("from", from.as_str().into());
            entry.insert("to", release.tag.into());
            entry.insert("revisions", (plan.steps.len() as i64).into());
            entry.insert("checksum", Checksum::of(&text).to_string().into());
            scripts.insert(&name, value(entry));
            let description = format!("{} from {from} to {}, {}", dialect.name(), release.tag, count(plan));
            files.push(DistFile { name, description, text });
        }
    }
    files.push(DistFile {
        name: "manifest.toml".into(),
        description: format!("{} revisions with files and checksums, heads, scripts", ranges[0].2.steps.len()),
        text: manifest(history, release, &ranges[0].2, scripts),
    });
    Ok(files)
}

fn count(plan: &Plan) -> String {
    match plan.steps.len() {
        1 => "1 revision".to_owned(),
        n => format!("{n} revisions"),
    }
}

/// `manifest.toml`: what the release's history is, for whoever ships it.
fn manifest(history: &History, release: &Release<'_>, full: &Plan, scripts: Table) -> String {
    let mut doc: DocumentMut = format!(
        "# The history of release {}, written by `cargo xtask release`: its tag and\n\
         # heads, every revision it has (in upgrade order) and the scripts beside this file.\n",
        release.version
    )
    .parse()
    .expect("comments parse");
    doc["version"] = value(release.version.text.as_str());
    doc["tag"] = value(release.tag);
    if let Some((previous, _)) = release.previous {
        doc["previous"] = value(previous.as_str());
    }
    doc["heads"] = value(history.ids(release.heads).into_iter().collect::<toml_edit::Array>());
    doc["scripts"] = toml_edit::Item::Table(scripts);
    let mut revisions = ArrayOfTables::new();
    for &i in &full.steps {
        let rev = history.revision(i);
        let mut table = Table::new();
        table["id"] = value(rev.id.as_str());
        table["file"] = value(rev.file.path.display().to_string());
        table["checksum"] = value(rev.checksum.to_string());
        revisions.push(table);
    }
    doc["revisions"] = toml_edit::Item::ArrayOfTables(revisions);
    doc.to_string()
}
