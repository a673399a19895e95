//! Diagnostics as cargo and rustc print them: the message, then the lines of
//! the file it is about with a caret span under what it points at, then the
//! help. The text comes from [`migrate_history::Diagnostic`] (and the
//! engine's failing statements), the same data the build script prints as
//! one `cargo::error=` line.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use anstyle::{AnsiColor, Style};
use migrate_history::Diagnostic;

/// Something to say about a place in a file.
#[derive(Debug, Clone)]
pub struct Located {
    pub error: bool,
    /// The file, as shown to the user (relative to the current directory when below it).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The byte range of the file's text it points at; the line's text when `None`.
    pub span: Option<Range<usize>>,
    /// A lint finding's statement, when it holds more than the span: shown around it.
    pub statement: Option<String>,
    /// The message, without the place.
    pub title: String,
    /// A lint rule's name: `error[ban-drop-column]: ...`.
    pub rule: Option<String>,
    pub help: Option<String>,
}

impl Located {
    /// A diagnostic with a file and a line.
    pub fn of(diagnostic: &Diagnostic) -> Option<Located> {
        Some(Located {
            error: diagnostic.is_error(),
            path: diagnostic.path.clone()?,
            line: diagnostic.line?,
            span: diagnostic.span.map(|s| s.start..s.end),
            statement: match &diagnostic.problem {
                migrate_history::Problem::Lint { statement, .. } => Some(statement.clone()),
                _ => None,
            },
            title: diagnostic.problem.message(),
            rule: diagnostic.problem.rule().map(str::to_owned),
            help: diagnostic.help(),
        })
    }

    /// An error on `path:line`, such as a revision's failing statement.
    pub fn error(path: impl Into<PathBuf>, line: usize, title: impl Into<String>, help: Option<String>) -> Located {
        Located {
            error: true,
            path: path.into(),
            line,
            span: None,
            statement: None,
            title: title.into(),
            rule: None,
            help,
        }
    }
}

/// The files diagnostics point into, each read once.
#[derive(Debug, Default)]
pub struct Sources {
    files: HashMap<PathBuf, Option<String>>,
}

impl Sources {
    fn text(&mut self, path: &Path) -> Option<&str> {
        self.files.entry(path.to_owned()).or_insert_with(|| std::fs::read_to_string(path).ok()).as_deref()
    }

    /// The diagnostic with its source excerpt, in colour (the shell's
    /// stream strips it where colours are off), or `None` when the file
    /// cannot be read or no longer has the line or span.
    pub fn render(&mut self, located: &Located) -> Option<String> {
        let text = self.text(&located.path)?;
        let span = match &located.span {
            Some(span) => {
                let valid = span.start <= span.end && text.get(span.clone()).is_some();
                valid.then(|| span.clone())?
            }
            None => line_range(text, located.line)?,
        };
        let level = if located.error { Level::ERROR } else { Level::WARNING };
        let mut title = level.primary_title(located.title.as_str());
        if let Some(rule) = &located.rule {
            title = title.id(rule.as_str());
        }
        let path = located.path.display().to_string();
        let mut snippet = Snippet::source(text)
            .path(path)
            .line_start(1)
            .fold(true)
            .annotation(AnnotationKind::Primary.span(span.clone()));
        // The statement's first line, when the span starts on a later one.
        let statement = located.statement.as_deref().and_then(|s| statement_range(text, s, &span));
        if let Some(statement) = statement.filter(|s| text[s.start..span.start].contains('\n')) {
            let first_line =
                statement.start..text[statement.start..].find('\n').map_or(text.len(), |n| statement.start + n);
            snippet = snippet.annotation(AnnotationKind::Context.span(first_line).label("in this statement"));
        }
        let mut group = title.element(snippet);
        if let Some(help) = &located.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        Some(renderer().render(&[group]))
    }
}

/// annotate-snippets' renderer in the shell's colours.
fn renderer() -> Renderer {
    const ERROR: Style = AnsiColor::Red.on_default().bold();
    const WARNING: Style = AnsiColor::Yellow.on_default().bold();
    const HELP: Style = AnsiColor::Cyan.on_default().bold();
    const BLUE: Style = AnsiColor::Blue.on_default().bold();
    Renderer::styled().error(ERROR).warning(WARNING).help(HELP).line_num(BLUE).context(BLUE)
}

/// Where `statement` stands in `text` around `span`.
fn statement_range(text: &str, statement: &str, span: &Range<usize>) -> Option<Range<usize>> {
    if statement.is_empty() {
        return None;
    }
    text.match_indices(statement)
        .map(|(at, _)| at..at + statement.len())
        .find(|range| range.start <= span.start && span.start < range.end)
}

/// The text of 1-based line `line`, without its indentation and line
/// ending; an empty range at the line's start for a blank line.
fn line_range(text: &str, line: usize) -> Option<Range<usize>> {
    let mut start = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let content = raw.trim_end_matches(['\n', '\r']);
            let indent = content.len() - content.trim_start().len();
            let end = start + content.trim_end().len();
            return Some((start + indent).min(end)..end);
        }
        start += raw.len();
    }
    // The line after a final line break (an editor shows it) is empty.
    (line == text.split_inclusive('\n').count() + 1 && text.ends_with('\n')).then_some(text.len()..text.len())
}

/// The places a run's error is about: a failing statement, or SQL refused
/// before anything ran.
pub fn engine_error(error: &migrate_runtime::Error) -> Vec<Located> {
    use migrate_runtime::Error;
    match error {
        Error::Statement { id, path, line, message, .. } => {
            vec![Located::error(path, *line, format!("revision `{id}` failed: {message}"), None)]
        }
        Error::InvalidSql { problems } => problems
            .iter()
            .map(|p| {
                Located::error(&p.path, p.line, format!("revision `{}`: {}", p.id, p.message), Some(p.help.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The places a workbench error is about: a line of the models, or a
/// revision that failed to replay.
pub fn workbench_error(error: &migrate_runtime::workbench::WorkbenchError, models: &Path) -> Vec<Located> {
    use migrate_runtime::workbench::WorkbenchError;
    match error {
        WorkbenchError::Models { line, message, .. } => vec![Located::error(models, *line, message.clone(), None)],
        WorkbenchError::Replay(error) => engine_error(error),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_leave_out_indentation_and_line_endings() {
        let text = "a\r\n  bc  \n\nlast";
        let ranges: Vec<_> = (1..=5).map(|line| line_range(text, line)).collect();
        assert_eq!(ranges, [Some(0..1), Some(5..7), Some(10..10), Some(11..15), None]);
        assert_eq!(line_range("a\n", 2), Some(2..2));
    }
}
