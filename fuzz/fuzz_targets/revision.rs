//! `parse_revision` on arbitrary text; the checks are `migrate_history::fuzzing::revision`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migrate_history::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = fuzzing::text(data) {
        fuzzing::revision(text);
    }
});
