//! Cargo-looking output: data on stdout, status on stderr with a right-aligned
//! green verb, `error:`/`warning:`/`help:` lines, `--color` and `-q`/`-v`.

use std::fmt::Display;
use std::io::{self, Write};

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use migrate_history::Diagnostic;

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
}

impl Shell {
    pub fn new(color: ColorChoice, verbosity: Verbosity) -> Shell {
        Shell { out: AutoStream::new(io::stdout(), color), err: AutoStream::new(io::stderr(), color), verbosity }
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

    /// A diagnostic, with the same text the build script prints.
    pub fn diagnostic(&mut self, diagnostic: &Diagnostic) -> io::Result<()> {
        if diagnostic.is_error() {
            self.error(diagnostic.message())?;
        } else if self.verbosity == Verbosity::Quiet {
            return Ok(());
        } else {
            self.warn(diagnostic.message())?;
        }
        match diagnostic.help() {
            Some(help) => self.help(help),
            None => Ok(()),
        }
    }
}

/// `s` for any count but one.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
