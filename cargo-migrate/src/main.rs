//! `cargo migrate`: create and manage migration revisions.

mod ci;
mod cli;
mod commands;
mod db;
mod error;
mod exit;
mod fleet;
mod fs;
mod gitattributes;
mod github;
mod interrupt;
#[cfg(feature = "lint")]
mod lint;
mod models;
mod project;
mod render;
mod report;
mod shell;

use clap::Parser;

use crate::cli::{CargoCli, Color};
use crate::error::CliError;

use crate::shell::{Shell, Verbosity};

fn main() {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Run directly as `cargo-migrate history`, not only as `cargo migrate history`.
    if args.get(1).is_none_or(|a| a != "migrate") {
        args.insert(1, "migrate".into());
    }
    let CargoCli::Migrate(args) = CargoCli::parse_from(args);
    let color = match args.global.color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    };
    let verbosity = match (args.global.quiet, args.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let mut shell = Shell::new(color, verbosity, args.global.message_format);
    let result = commands::run(&mut shell, args);
    if interrupt::exiting() {
        // The Ctrl-C handler is cleaning up and ends the process (130).
        std::thread::sleep(std::time::Duration::from_secs(30));
        std::process::exit(130);
    }
    let code = match &result {
        Ok(code) => *code,
        Err(error) if error.message.is_empty() => error.exit_code,
        Err(error) => report(&mut shell, error),
    };
    let error = result.as_ref().err().filter(|e| !e.message.is_empty());
    let _ = shell.finish(code, error.map(|e| (e.message.as_str(), e.help.as_deref())));
    std::process::exit(code);
}

fn report(shell: &mut Shell, error: &CliError) -> i32 {
    let _ = shell.final_error(&error.message, error.help.as_deref());
    error.exit_code
}
