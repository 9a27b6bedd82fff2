//! `warden-core`: Warden's domain and the ports it talks through.
//!
//! The domain (users, passwords, sessions, tokens, the audit log, privacy requests, the monitor)
//! talks only to the ports in [`table`], [`keys`], [`blobs`] and [`clock`]. Their adapters live
//! in other crates — `warden-aws` (DynamoDB, KMS, S3) and `warden-embedded` (redb, a local
//! keyring, a directory) — and the transport in `warden-http`; this crate depends on none of
//! them, nor on any HTTP, SDK or storage crate (the test command checks its dependency tree), so
//! the Lambdas and the local runner run the same domain over different backends.

pub mod account;
pub mod activity;
pub mod address;
pub mod audit;
pub mod backends;
pub mod billing;
pub mod blobs;
pub mod caller;
pub mod client;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod devices;
pub mod digest_signer;
pub mod email_change;
pub mod error;
pub mod event_bus;
pub mod html;
pub mod keys;
pub mod links;
pub mod lockout;
pub mod login;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod monitor;
pub mod password;
pub mod photos;
pub mod privacy;
pub mod profile;
pub mod rate_limit;
pub mod recovery;
pub mod refresh;
pub mod registration;
pub mod secret;
pub mod services;
pub mod sessions;
pub mod table;
pub mod tokens;
pub mod users;

pub use error::{Error, Result};
