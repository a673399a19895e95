//! `sql::split` on arbitrary text under each dialect; the checks are `migrate_core::fuzzing::sql`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migrate_core::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = fuzzing::text(data) {
        fuzzing::sql(text);
    }
});
