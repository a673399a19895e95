//! Ctrl-C: one handler for the whole process.
//!
//! While a migration runs, the first Ctrl-C asks the engine to stop after the
//! revision in progress (which finishes, or rolls back, and is recorded); the
//! lock is released and the process exits with 130. A second Ctrl-C, or the
//! first when no migration is running, runs the registered clean-ups (such as
//! dropping scratch databases) and exits at once with 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Once};

/// Set by the first Ctrl-C during a migration; the engine polls it.
static STOP: LazyLock<Arc<AtomicBool>> = LazyLock::new(Default::default);
/// Whether a migration that can stop cleanly is running.
static GRACEFUL: AtomicBool = AtomicBool::new(false);
/// Set once the handler ends the process itself.
static EXITING: AtomicBool = AtomicBool::new(false);
static CLEANUPS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Installs the handler (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if GRACEFUL.load(Ordering::SeqCst) && !STOP.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "Interrupted: finishing the revision in progress, then stopping (press Ctrl-C again to exit at once)"
                );
                return;
            }
            EXITING.store(true, Ordering::SeqCst);
            let cleanups = CLEANUPS.lock().map(|list| list.clone()).unwrap_or_default();
            for cleanup in cleanups {
                cleanup();
            }
            std::process::exit(130);
        });
    });
}

/// Runs `cleanup` before the process exits on Ctrl-C.
pub fn on_exit(cleanup: fn()) {
    install();
    if let Ok(mut list) = CLEANUPS.lock() {
        if !list.contains(&cleanup) {
            list.push(cleanup);
        }
    }
}

/// Whether the handler is ending the process: the main thread leaves the exit to it.
pub fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// Makes the first Ctrl-C stop the migration cleanly while this lives.
#[derive(Debug)]
pub struct Graceful(());

impl Graceful {
    /// Enters graceful mode; returns the flag to hand to the engine.
    pub fn enter() -> (Graceful, Arc<AtomicBool>) {
        install();
        GRACEFUL.store(true, Ordering::SeqCst);
        (Graceful(()), STOP.clone())
    }
}

impl Graceful {
    /// While the run waits for the migration lock nothing is in progress:
    /// Ctrl-C then exits at once.
    pub fn waiting(&self, waiting: bool) {
        GRACEFUL.store(!waiting, Ordering::SeqCst);
    }
}

impl Drop for Graceful {
    fn drop(&mut self) {
        GRACEFUL.store(false, Ordering::SeqCst);
    }
}
