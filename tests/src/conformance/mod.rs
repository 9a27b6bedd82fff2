//! The conformance suites: each port's behaviour, written once and run on every adapter.
//! `table_suite!`, `keys_suite!`, `blobs_suite!` and `mail_suite!` instantiate one `#[tokio::test]` per case for
//! a fixture expression, so the output lists every case per adapter.

pub mod blobs;
pub mod keys;
pub mod mail;
pub mod table;
