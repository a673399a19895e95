//! End-to-end tests: real `cargo build` of throwaway crates using migrate-build.

mod alembic;
mod autogenerate;
mod build_script;
mod fixture;
mod oracle;
mod runtime;
mod schema;
