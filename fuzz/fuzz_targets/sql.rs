//! `sql::split` on arbitrary text under each dialect; the checks are `migrate_history::fuzzing::sql`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migrate_history::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = fuzzing::text(data) {
        fuzzing::sql(text);
    }
});
