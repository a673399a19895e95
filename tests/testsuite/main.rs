//! End-to-end tests: real `cargo build` of throwaway crates using migrate-build.

mod build_script;
