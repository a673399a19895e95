//! GitHub Actions: a Markdown job summary appended to the file named by
//! `GITHUB_STEP_SUMMARY`, and `::error`/`::warning` workflow commands that
//! put a problem on its file and line in the pull request. Both only when
//! running inside Actions (the variables are set); nothing otherwise.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use migrate_history::Diagnostic;

/// GitHub refuses a step summary over 1 MiB; what we append stays below
/// this, whatever the file already holds.
const SUMMARY_LIMIT: u64 = 1024 * 1024 - 16 * 1024;

/// At most this many workflow annotations of each kind; then a count.
const ANNOTATIONS_PER_KIND: usize = 10;

/// The environment a workflow names for the run (`MIGRATE_ENVIRONMENT`,
/// which the generated workflows set from their `environment` input).
pub fn environment() -> Option<String> {
    std::env::var("MIGRATE_ENVIRONMENT").ok().filter(|e| !e.trim().is_empty())
}

/// ` (environment `production`)` when the workflow names one, else nothing.
pub fn environment_note() -> String {
    environment().map(|e| format!(" (environment `{e}`)")).unwrap_or_default()
}

/// `cargo migrate` with the project-selecting flags this process was given
/// (`--manifest-path`, `-p`, `--dir`), for commands a summary tells to run.
pub fn command_prefix() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut prefix = String::from("cargo migrate");
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let (flag, value) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (word.as_str(), None),
        };
        if matches!(flag, "--manifest-path" | "-p" | "--package" | "--dir") {
            let Some(value) = value.or_else(|| words.next().cloned()) else { break };
            prefix.push_str(&format!(" {flag} {}", shell_word(&value)));
        }
    }
    prefix
}

/// A word as a POSIX shell reads it back: quoted when it holds anything but
/// letters, digits and `-_./@+:`.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@+:".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A Markdown summary being built; [`Summary::write`] appends it to the
/// step summary file, if there is one.
#[derive(Debug, Default)]
pub struct Summary {
    text: String,
    /// Bytes the file can still take under GitHub's limit.
    room: usize,
}

impl Summary {
    /// A summary starting with a `### title` heading, or `None` outside Actions.
    pub fn start(title: &str) -> Option<Summary> {
        let path = std::env::var_os("GITHUB_STEP_SUMMARY")?;
        let used = std::fs::metadata(path).map_or(0, |m| m.len());
        let room = usize::try_from(SUMMARY_LIMIT.saturating_sub(used)).unwrap_or(0);
        let mut summary = Summary { text: String::new(), room };
        let _ = writeln!(summary.text, "### {title}\n");
        Some(summary)
    }

    /// A line of Markdown.
    pub fn line(&mut self, text: impl std::fmt::Display) -> &mut Summary {
        let _ = writeln!(self.text, "{text}");
        self
    }

    /// `| key | value |` rows under a two-column header, values escaped.
    pub fn table(&mut self, rows: &[(&str, String)]) -> &mut Summary {
        self.line("| | |").line("|---|---|");
        for (key, value) in rows {
            self.line(format_args!("| {key} | {} |", cell(value)));
        }
        self.line("")
    }

    /// A fenced block (` ```sql `), cut to `budget` bytes (and to what the
    /// summary file can still take) with a note when longer.
    pub fn code(&mut self, language: &str, code: &str, budget: usize) -> &mut Summary {
        let fence = if code.contains("```") { "~~~~" } else { "```" };
        let budget = budget.min(self.room.saturating_sub(self.text.len() + 4096));
        let (shown, cut) = cut_at(code, budget);
        self.line(format_args!("{fence}{language}")).line(shown.trim_end()).line(fence);
        if cut > 0 {
            self.line(format_args!("\n*{cut} more bytes not shown; the full text is in the job's log or artifact.*"));
        }
        self.line("")
    }

    /// Appends the summary to the step summary file, cut to stay under
    /// GitHub's limit. A failure to write is a warning, not the command's failure.
    pub fn write(self) -> std::io::Result<()> {
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from) else { return Ok(()) };
        let (text, cut) = cut_at(&self.text, self.room.saturating_sub(200));
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(text.as_bytes())?;
        if cut > 0 {
            writeln!(file, "\n*The summary was cut by {cut} bytes to stay under GitHub's 1 MiB limit.*\n")?;
        }
        Ok(())
    }
}

/// `text` cut at a line end (else a character boundary) to at most
/// `budget` bytes, and how many bytes were left out.
fn cut_at(text: &str, budget: usize) -> (&str, usize) {
    if text.len() <= budget {
        return (text, 0);
    }
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |newline| newline + 1);
    (&text[..end], text.len() - end)
}

/// A table cell: `|` escaped, line breaks as `<br>`, code in backticks kept.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace("\r\n", "<br>").replace('\n', "<br>")
}

/// Workflow annotations for diagnostics, counted per kind.
#[derive(Debug, Default)]
pub struct Annotations {
    errors: usize,
    warnings: usize,
}

impl Annotations {
    /// Whether this process runs inside GitHub Actions.
    pub fn enabled() -> bool {
        std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
    }

    /// The `::error file=...,line=...::message` line for a diagnostic (with
    /// its columns when it has a span, and a lint finding's rule as the
    /// title), or `None` past the tenth of its kind.
    pub fn line(&mut self, diagnostic: &Diagnostic) -> Option<String> {
        let mut message = diagnostic.problem.message();
        if let Some(help) = diagnostic.help() {
            message.push_str("\nhelp: ");
            message.push_str(&help);
        }
        let path = diagnostic.path.as_ref().map(|p| p.display().to_string());
        let mut more = Vec::new();
        if let Some(span) = diagnostic.span {
            more.push(format!("col={}", span.column));
            if span.end_line > span.line {
                more.push(format!("endLine={}", span.end_line));
            }
            more.push(format!("endColumn={}", span.end_column));
        }
        if let Some(rule) = diagnostic.problem.rule() {
            more.push(format!("title={}", property(rule)));
        }
        self.annotation_with(diagnostic.is_error(), path.as_deref(), diagnostic.line, more, &message)
    }

    /// An `::error` (or `::warning`) line on `path` and `line`, or `None`
    /// past the tenth of its kind.
    pub fn annotation(
        &mut self,
        error: bool,
        path: Option<&str>,
        line: Option<usize>,
        message: &str,
    ) -> Option<String> {
        self.annotation_with(error, path, line, Vec::new(), message)
    }

    fn annotation_with(
        &mut self,
        error: bool,
        path: Option<&str>,
        line: Option<usize>,
        more: Vec<String>,
        message: &str,
    ) -> Option<String> {
        let (kind, count) = if error { ("error", &mut self.errors) } else { ("warning", &mut self.warnings) };
        *count += 1;
        if *count > ANNOTATIONS_PER_KIND {
            return None;
        }
        let mut properties = Vec::new();
        if let Some(path) = path {
            properties.push(format!("file={}", property(path)));
        }
        if let Some(line) = line {
            properties.push(format!("line={line}"));
            properties.extend(more);
        }
        let properties = if properties.is_empty() { String::new() } else { format!(" {}", properties.join(",")) };
        Some(format!("::{kind}{properties}::{}", data(message)))
    }

    /// The closing count of what was not annotated, if anything.
    pub fn rest(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (kind, count) in [("error", self.errors), ("warning", self.warnings)] {
            if count > ANNOTATIONS_PER_KIND {
                let more = count - ANNOTATIONS_PER_KIND;
                lines.push(format!(
                    "::{kind}::{more} more {kind}{} not annotated; the log lists them all",
                    if more == 1 { "" } else { "s" }
                ));
            }
        }
        lines
    }
}

/// A workflow command's message, escaped as the runner expects.
fn data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value, escaped as the runner expects.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_at_keeps_whole_lines_and_characters() {
        assert_eq!(cut_at("ab\ncd\nef", 100), ("ab\ncd\nef", 0));
        assert_eq!(cut_at("ab\ncd\nef", 7), ("ab\ncd\n", 2));
        assert_eq!(cut_at("é", 1), ("", 2));
    }

    #[test]
    fn annotations_escape_and_stop_after_ten() {
        let mut annotations = Annotations::default();
        let diagnostic = Diagnostic::error("migrations/a,b:c.sql", Some(3), migrate_history::Problem::MissingUpSection);
        assert_eq!(
            annotations.line(&diagnostic).unwrap(),
            "::error file=migrations/a%2Cb%3Ac.sql,line=3::no `-- migrate:up` section%0Ahelp: add a line `-- migrate:up` followed by the SQL to apply"
        );
        for _ in 1..10 {
            assert!(annotations.line(&diagnostic).is_some());
        }
        assert_eq!(annotations.line(&diagnostic), None);
        assert_eq!(annotations.rest(), ["::error::1 more error not annotated; the log lists them all"]);
    }

    #[test]
    fn annotations_carry_a_span_and_a_lint_rule() {
        let text = "-- migrate:up\nALTER TABLE users DROP COLUMN email;\n";
        let problem = migrate_history::Problem::Lint {
            rule: "ban-drop-column".into(),
            message: "Dropping a column may break existing clients.".into(),
            help: "stop reading it first".into(),
            statement: "ALTER TABLE users DROP COLUMN email".into(),
        };
        let span = migrate_history::Span::new(text, 32..49);
        let diagnostic = Diagnostic::warning("m/b.sql", None, problem).with_span(span);
        assert_eq!(
            Annotations::default().line(&diagnostic).unwrap(),
            "::warning file=m/b.sql,line=2,col=19,endColumn=36,title=ban-drop-column::Dropping a column may break existing clients.%0Ahelp: stop reading it first"
        );
    }
}
