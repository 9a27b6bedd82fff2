//! Passwords: hashing ([`hashing`]), the acceptance policy ([`policy`]) and breach detection
//! ([`breach`]). Registration and password change run a candidate through the policy and the
//! breach check before it is hashed; login only hashes and verifies.

pub mod breach;
pub mod hashing;
pub mod policy;

pub use hashing::PasswordHasher;
