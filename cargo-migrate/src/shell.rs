//! Cargo-looking output: data on stdout, status on stderr with a right-aligned
//! green verb, `error:`/`warning:`/`help:` lines, `--color` and `-q`/`-v`.

use std::fmt::Display;
use std::io::{self, Write};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use migrate_history::Diagnostic;

use crate::cli::MessageFormat;
use crate::github::Annotations;
use crate::render::{Located, Sources};
use crate::report::{DiagnosticInfo, Message};

const STATUS: Style = AnsiColor::Green.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HELP: Style = AnsiColor::Cyan.on_default().bold();
pub const BOLD: Style = Style::new().bold();

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The terminal, as commands see it.
#[derive(Debug)]
pub struct Shell {
    out: AutoStream<io::Stdout>,
    err: AutoStream<io::Stderr>,
    verbosity: Verbosity,
    format: MessageFormat,
    /// Inside GitHub Actions: diagnostics become workflow annotations too.
    annotations: Option<Annotations>,
    /// The files diagnostics point into, for their excerpts.
    sources: Sources,
    /// Where the error that ends the command is, when a command knows it
    /// (a failing statement): printed with excerpts instead of its message.
    error_places: Vec<Located>,
}

impl Shell {
    pub fn new(color: ColorChoice, verbosity: Verbosity, format: MessageFormat) -> Shell {
        Shell {
            out: AutoStream::new(io::stdout(), color),
            err: AutoStream::new(io::stderr(), color),
            verbosity,
            format,
            annotations: Annotations::enabled().then(Annotations::default),
            sources: Sources::default(),
            error_places: Vec::new(),
        }
    }

    /// Whether `--message-format json` was given: data goes out as [`Message`]s.
    pub fn json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    /// One JSON line on stdout; nothing unless `--message-format json`.
    pub fn emit(&mut self, message: &Message) -> io::Result<()> {
        if self.json() {
            writeln!(self.out, "{}", crate::report::to_line(message))?;
        }
        Ok(())
    }

    /// How much to say.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// Stdout, for the command's data (listings, JSON, created paths).
    pub fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// `   Created migrations/abc_x.sql`, like cargo's status lines.
    pub fn status(&mut self, verb: &str, message: impl Display) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        writeln!(self.err, "{STATUS}{verb:>12}{STATUS:#} {message}")
    }

    /// A file `init` wrote or kept: a status line (`verb`, the path and a
    /// note) and a `file-written` message whose `action` is the verb in lowercase.
    pub fn file(&mut self, verb: &str, path: &std::path::Path, note: Option<&str>) -> io::Result<()> {
        let shown = path.display();
        match note {
            Some(note) => self.status(verb, format!("{shown} ({note})"))?,
            None => self.status(verb, &shown)?,
        }
        self.emit(&Message::FileWritten { path: shown.to_string(), action: verb.to_lowercase() })
    }

    /// `warning: ...`; hidden by `-q`.
    pub fn warn(&mut self, message: impl Display) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        writeln!(self.err, "{WARNING}warning{WARNING:#}{BOLD}:{BOLD:#} {message}")
    }

    /// `error: ...`; always shown.
    pub fn error(&mut self, message: impl Display) -> io::Result<()> {
        writeln!(self.err, "{ERROR}error{ERROR:#}{BOLD}:{BOLD:#} {message}")
    }

    /// `  help: ...` under an error or warning.
    pub fn help(&mut self, message: impl Display) -> io::Result<()> {
        writeln!(self.err, "  {HELP}help{HELP:#}{BOLD}:{BOLD:#} {message}")
    }

    /// `note: ...`; hidden by `-q`.
    pub fn note(&mut self, message: impl Display) -> io::Result<()> {
        if self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        writeln!(self.err, "{BOLD}note:{BOLD:#} {message}")
    }

    /// A diagnostic, with the message the build script prints: with its
    /// file's lines and a caret span under what it points at, as rustc
    /// does, when it has a line; with `--message-format json` also as a
    /// JSON line, and inside GitHub Actions also as a workflow annotation
    /// on its file and line.
    pub fn diagnostic(&mut self, diagnostic: &Diagnostic) -> io::Result<()> {
        self.emit(&Message::Diagnostic(DiagnosticInfo::of(diagnostic)))?;
        if let Some(line) = self.annotations.as_mut().and_then(|a| a.line(diagnostic)) {
            writeln!(self.err, "{line}")?;
        }
        if !diagnostic.is_error() && self.verbosity == Verbosity::Quiet {
            return Ok(());
        }
        if let Some(rendered) = Located::of(diagnostic).and_then(|l| self.sources.render(&l)) {
            return writeln!(self.err, "{rendered}\n");
        }
        if diagnostic.is_error() {
            self.error(diagnostic.message())?;
        } else {
            self.warn(diagnostic.message())?;
        }
        match diagnostic.help() {
            Some(help) => self.help(help),
            None => Ok(()),
        }
    }

    /// Where the error the command is about to return is: its message is
    /// then printed as these places, each with its file's lines (JSON and
    /// the exit code keep the error's own message).
    pub fn error_places(&mut self, places: Vec<Located>) {
        self.error_places = places;
    }

    /// The error that ends the command: `error: ...` and `help: ...`, or
    /// the places [`Shell::error_places`] named, with their excerpts.
    pub fn final_error(&mut self, message: &str, help: Option<&str>) -> io::Result<()> {
        let mut places = std::mem::take(&mut self.error_places);
        if let Some(last) = places.last_mut().filter(|last| last.help.is_none()) {
            last.help = help.map(str::to_owned);
        }
        let rendered: Option<Vec<String>> = places.iter().map(|place| self.sources.render(place)).collect();
        match rendered {
            Some(blocks) if !blocks.is_empty() => writeln!(self.err, "{}", blocks.join("\n\n")),
            _ => {
                self.error(message)?;
                help.map_or(Ok(()), |help| self.help(help))
            }
        }
    }

    /// Inside GitHub Actions, an `::error` annotation on `path:line` (a
    /// revision's failing statement); nothing elsewhere.
    pub fn annotate_error(&mut self, path: &str, line: usize, message: &str) -> io::Result<()> {
        if let Some(line) = self.annotations.as_mut().and_then(|a| a.annotation(true, Some(path), Some(line), message))
        {
            writeln!(self.err, "{line}")?;
        }
        Ok(())
    }

    /// The end of the command: the count of diagnostics that were not
    /// annotated, and with `--message-format json` a final `finished` line
    /// (after an `error` line when it failed).
    pub fn finish(&mut self, exit_code: i32, error: Option<(&str, Option<&str>)>) -> io::Result<()> {
        if let Some(annotations) = &self.annotations {
            for line in annotations.rest() {
                writeln!(self.err, "{line}")?;
            }
        }
        if let Some((message, help)) = error {
            self.emit(&Message::Error { message: message.to_owned(), help: help.map(str::to_owned) })?;
        }
        self.emit(&Message::Finished { success: exit_code == 0, exit_code })?;
        self.out.flush()
    }
}

/// `s` for any count but one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
