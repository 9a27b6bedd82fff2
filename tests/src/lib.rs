//! Test harness: fixtures for both backends of every port, the conformance suites run on each
//! (object_store's pattern: one set of test functions, instantiated per adapter by a macro), and
//! a minimal HTTP/1.1 client for loopback servers.
//!
//! The AWS fixtures need the emulator that `scripts/test` starts and provisions from
//! `template.yaml`; without it they fail loudly, never skip.

pub mod conformance;
pub mod counting;
pub mod fixtures;
pub mod http_client;
pub mod in_process;
pub mod lambda_events;
pub mod measure;
