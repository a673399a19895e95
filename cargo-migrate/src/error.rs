//! The binary's error: a message, an optional fix, and the exit code.

use std::fmt;

use crate::exit;

/// An error to print as `error: ...` with `help: ...`, ending the process.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub help: Option<String>,
    pub exit_code: i32,
}

/// Result of a command: `Ok(exit code)`.
pub type CliResult = Result<i32, CliError>;

impl CliError {
    /// A wrong argument (exit code 2).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), help: None, exit_code: exit::USAGE }
    }

    /// Any other failure (exit code 101).
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError { message: message.into(), help: None, exit_code: exit::FAILURE }
    }

    /// Adds the fix.
    pub fn with_help(mut self, help: impl Into<String>) -> CliError {
        self.help = Some(help.into());
        self
    }

    /// An IO failure on a path.
    pub fn io(action: &str, path: &std::path::Path, error: std::io::Error) -> CliError {
        CliError::failure(format!("could not {action} {}: {error}", path.display()))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<migrate_history::TargetError> for CliError {
    fn from(error: migrate_history::TargetError) -> CliError {
        let help = error.help();
        let mut cli = CliError::usage(error.to_string());
        cli.help = help.map(str::to_owned);
        cli
    }
}

/// Writing to stdout or stderr failed. A closed pipe (`cargo migrate history | head`)
/// ends the process quietly with success, as ripgrep does.
impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> CliError {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return CliError { message: String::new(), help: None, exit_code: exit::OK };
        }
        CliError::failure(format!("could not write output: {error}"))
    }
}
