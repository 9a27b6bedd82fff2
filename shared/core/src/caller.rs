//! [`Caller`]: who an authenticated request comes from, as the domain sees it.
//!
//! The transport (`warden-http`'s guard) verifies the access token and reads the user's profile
//! in the same round trip as the rate-limit charge; operations that act for a signed-in user take
//! this value, never a request or a header map.

use crate::tokens::access::AccessClaims;
use crate::users::Profile;

/// A verified caller: the user, the token's claims, and the user's profile as this request found
/// it (the guard's rate-limit write returns it, so handlers that show it need no read of their own).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub claims: AccessClaims,
    pub profile: Profile,
}
