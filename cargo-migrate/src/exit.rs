//! Exit codes, documented in one place (`cargo migrate --help` repeats them).

/// Everything went fine.
pub const OK: i32 = 0;
/// A check found something: problems in the history, drafts, several heads.
pub const CHECK_FAILED: i32 = 1;
/// The command line was wrong: an unknown flag, a bad target, a missing package.
pub const USAGE: i32 = 2;
/// Anything else went wrong (cargo's code for internal failures).
pub const FAILURE: i32 = 101;
/// Ctrl-C stopped the command (the shell's code for SIGINT).
pub const INTERRUPTED: i32 = 130;
