//! `warden`: the domain, ports and adapters every Warden function shares.
//!
//! The domain (users, passwords, registration) talks only to the ports in [`table`], [`keys`],
//! [`blobs`] and [`clock`]. Each port has an AWS adapter (DynamoDB, KMS, S3) and an embedded
//! adapter (a redb file, a local keyring, a directory) so that the Lambda functions and the
//! local runner run the same code over different backends. [`backends`] builds one set of
//! adapters from [`config::Config`]; [`http`] holds what every HTTP function shares (problem+json,
//! body limits, client IP).

pub mod account;
pub mod activity;
pub mod audit;
pub mod backends;
pub mod billing;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod devices;
pub mod error;
pub mod http;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod monitor;
pub mod password;
pub mod photos;
pub mod privacy;
pub mod profile;
pub mod rate_limit;
pub mod registration;
pub mod secret;
pub mod services;
pub mod sessions;
pub mod table;
pub mod tokens;
pub mod users;

pub use error::{Error, Result};
