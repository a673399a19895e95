//! Exit codes, documented in one place (`cargo migrate --help` repeats them).

/// Everything went fine.
pub const OK: i32 = 0;
/// A check found something: problems in the history, drafts, several heads,
/// a database not up to date, models that differ, a `verify` failure, lint
/// findings that are errors.
pub const CHECK_FAILED: i32 = 1;
/// The command line was wrong: an unknown flag, a bad URL or target, a missing package.
pub const USAGE: i32 = 2;
/// The database could not be reached, or refused the credentials.
pub const CONNECT: i32 = 3;
/// The database refused the run: an applied revision changed, a failed or
/// interrupted revision waits to be resolved, it has revisions the history
/// lacks, the migration lock was not free in time, or the run reached a
/// revision whose SQL is still to be written (`-- needs-sql`); or `adopt` refused
/// the other tool's state (failed or dirty, a version the import lacks, a
/// gap) or the schema's drift.
pub const REFUSED: i32 = 4;
/// Anything else went wrong (cargo's code for internal failures).
pub const FAILURE: i32 = 101;
/// Ctrl-C stopped the command (the shell's code for SIGINT).
pub const INTERRUPTED: i32 = 130;
