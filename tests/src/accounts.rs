//! Accounts made straight through the user repository, verified from the start: for the
//! benches, which measure sign-in, refresh and exports, not the registration's mail round trip
//! (the flow tests register and verify through HTTP).

use warden_core::secret::SecretString;
use warden_core::services::Services;
use warden_core::users::{AccountState, User, new_user_id};

/// A verified account for `email` with `password` (the policy applied as registration does);
/// returns its id.
pub async fn verified(s: &Services, email: &str, password: &str) -> String {
    let password = s
        .policy
        .check(&SecretString::new(password.to_string()), email)
        .expect("a password the policy accepts");
    let now = s.backends.clock.now();
    let id = new_user_id().expect("rng");
    let user = User {
        account: AccountState::new(
            s.passwords.hash(&password).await.expect("a hash"),
            now,
            None,
            Some(s.audit.shard_for_new_user(&id).await.expect("layout")),
        ),
        id,
        email: email.to_string(),
    };
    s.users().create(&user).await.expect("a free address");
    user.id
}
