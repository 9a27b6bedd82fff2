//! Passkeys (WebAuthn Level 3) through `webauthn-rs`: registration for a signed-in user, and
//! discoverable sign-in, a complete sign-in of its own (possession of the key and the
//! authenticator's user verification: two factors, `acr` `aal2`).
//!
//! Ceremonies are single use and bound to their kind: `POST …/options` stores the library's
//! state under a random `challenge_id` (`PASSKEYCEREMONY#{keyed hash}`, five minutes, the kind
//! and — for a registration — the user), and the answer deletes it (conditioned on its existence)
//! before anything is checked, so a challenge is spent by its first use, right or wrong, and a
//! registration's challenge cannot finish a sign-in. The relying party is `WARDEN_RP_ID` (a
//! domain, never an address; default: the issuer's host) and the origins `WARDEN_ALLOWED_ORIGINS`
//! and the issuer's, those under the relying party.
//!
//! Credentials live in the user's partition, `MFA#PASSKEY#{credential id}`: the library's
//! `Passkey` (public key, counter, backup flags) as JSON, a name, and the counter again as a
//! number, which the sign-in's update is conditioned on: two sign-ins racing with one assertion
//! (or a cloned authenticator's) store one counter, and the other is refused. The library itself
//! refuses an assertion whose counter does not grow and a credential whose backup eligibility
//! changed. The user handle is the user id (16 bytes), so a discoverable sign-in finds its
//! account without asking who the user is.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::audit::{EventType, RequestMeta};
use crate::caller::Caller;
use crate::client::ClientSignals;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::crypto::server_secret::mac_hex;
use crate::login::SignIn;
use crate::login::{LoginOutcome, SignInDevice, start_session};
use crate::mail::Notice;
use crate::sessions::Grant;
use crate::table::UnitOfWork;
use crate::table::schema::{TTL, user_partition};
use crate::table::{Condition, Item, Key, Query, SortKey, Table, TxOp, Update};
use crate::tokens::access::{Methods, Scope};
use crate::{Error, Result};

/// How long a ceremony's challenge lives.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);
const PREFIX: &str = "MFA#PASSKEY#";
/// Passkeys one account may hold.
pub const MAX_PER_ACCOUNT: usize = 20;

/// The relying party: `WARDEN_RP_ID` and the configured origins under it.
pub fn relying_party(config: &Config) -> Result<Webauthn> {
    let unavailable =
        || Error::Unavailable("passkeys need WARDEN_RP_ID and an origin under it".into());
    let rp_id = config.rp_id.as_deref().ok_or_else(unavailable)?;
    let origins: Vec<Url> = std::iter::once(config.issuer.as_str())
        .chain(config.allowed_origins.iter().map(String::as_str))
        .filter_map(|o| Url::parse(o).ok())
        .filter(|u| {
            u.domain()
                .is_some_and(|d| d == rp_id || d.ends_with(&format!(".{rp_id}")))
        })
        .collect();
    let (first, rest) = origins.split_first().ok_or_else(unavailable)?;
    let mut builder = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| Error::internal("webauthn", e))?
        .rp_name(&config.mail.branding.product);
    for o in rest {
        builder = builder.append_allowed_origin(o);
    }
    builder.build().map_err(|e| Error::internal("webauthn", e))
}

fn user_handle(user_id: &str) -> Result<Uuid> {
    let bytes: Vec<u8> = (0..user_id.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(user_id.get(i..i + 2)?, 16).ok())
        .collect();
    Uuid::from_slice(&bytes).map_err(|e| Error::internal("a user id is not 16 bytes", e))
}

fn credential_key(user_id: &str, credential_id: &str) -> Key {
    Key::new(user_partition(user_id), format!("{PREFIX}{credential_id}"))
}

fn ceremony_key(s: &SignIn<'_>, challenge_id: &str) -> Key {
    let hash = mac_hex(
        &s.server_keys.second_factor,
        &[b"passkey-ceremony", challenge_id.as_bytes()],
    );
    Key::new(format!("PASSKEYCEREMONY#{hash}"), "CEREMONY")
}

/// `{challenge_id, publicKey}`: what `navigator.credentials.create/get` takes, with the id that
/// names the ceremony.
#[derive(Debug, Serialize)]
pub struct Options {
    pub challenge_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: serde_json::Value,
}

async fn store_ceremony(
    s: &SignIn<'_>,
    kind: &str,
    user_id: Option<&str>,
    state: &impl Serialize,
) -> Result<String> {
    let now = s.clock.now();
    let challenge_id = crate::crypto::hex(&crate::crypto::random_bytes::<32>()?);
    let mut item = Item::new(&ceremony_key(s, &challenge_id))
        .with("kind", kind)
        .with(
            "state",
            serde_json::to_string(state).map_err(|e| Error::internal("JSON encoding", e))?,
        )
        .with(TTL, now.plus(CEREMONY_LIFETIME).secs());
    if let Some(u) = user_id {
        item.set("user_id", u);
    }
    s.table.put(item, Some(Condition::NotExists)).await?;
    Ok(challenge_id)
}

/// Takes the ceremony `challenge_id` of `kind` (and, for a registration, of `user_id`): it is
/// deleted before anything is checked, so it is used once. Every refusal is `refused`.
async fn take_ceremony<T: for<'de> Deserialize<'de>>(
    s: &SignIn<'_>,
    challenge_id: &str,
    kind: &str,
    user_id: Option<&str>,
    refused: fn() -> Error,
) -> Result<T> {
    if challenge_id.len() != 64 || !challenge_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused());
    }
    let key = ceremony_key(s, challenge_id);
    let table = s.table;
    let item = table.get(&key).await?.ok_or_else(refused)?;
    match table.delete(&key, Some(Condition::Exists)).await {
        Ok(()) => {}
        Err(Error::ConditionFailed) => return Err(refused()),
        Err(e) => return Err(e),
    }
    if item.s("kind") != Some(kind) || item.s("user_id") != user_id {
        return Err(refused());
    }
    serde_json::from_str(item.s("state").unwrap_or_default()).map_err(|_| refused())
}

/// The account's passkeys: (item, the library's passkey).
async fn all(table: &dyn Table, user_id: &str) -> Result<Vec<(Item, Passkey)>> {
    super::items_under(table, user_id, PREFIX)
        .await?
        .into_iter()
        .map(|i| {
            let pk = serde_json::from_str(i.s("passkey").unwrap_or_default())
                .map_err(|_| Error::Malformed("passkey item"))?;
            Ok((i, pk))
        })
        .collect()
}

/// Whether the account holds a passkey (the second step offers a passkey sign-in then).
pub async fn has_any(table: &dyn Table, user_id: &str) -> Result<bool> {
    let page = table
        .query(
            Query::partition(user_partition(user_id))
                .sort(SortKey::BeginsWith(PREFIX.into()))
                .limit(1),
        )
        .await?;
    Ok(!page.items.is_empty())
}

fn credential_id(pk: &Passkey) -> String {
    crate::tokens::b64(pk.cred_id().as_ref())
}

/// `POST /me/passkeys/options`: a registration ceremony. Needs a sign-in of the last five
/// minutes (with the second factor when the account has one).
pub async fn registration_options(s: &SignIn<'_>, caller: &Caller) -> Result<Options> {
    let now = s.clock.now();
    super::require_fresh(caller, Methods::default(), now)?;
    super::require_second_factor_if_enrolled(caller, now)?;
    let rp = relying_party(s.config)?;
    let user = s
        .users()
        .get(&caller.user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let existing = all(s.table, &user.id).await?;
    if existing.len() >= MAX_PER_ACCOUNT {
        return Err(Error::Conflict(format!(
            "an account holds at most {MAX_PER_ACCOUNT} passkeys"
        )));
    }
    let exclude = existing
        .iter()
        .map(|(_, pk)| pk.cred_id().clone())
        .collect();
    let (ccr, state) = rp
        .start_passkey_registration(
            user_handle(&user.id)?,
            &user.email,
            &user.email,
            Some(exclude),
        )
        .map_err(|e| Error::internal("webauthn", e))?;
    let mut public_key =
        serde_json::to_value(&ccr.public_key).map_err(|e| Error::internal("JSON encoding", e))?;
    // A passkey is a discoverable credential: sign-in asks no name first.
    public_key["authenticatorSelection"]["residentKey"] = "required".into();
    public_key["authenticatorSelection"]["requireResidentKey"] = true.into();
    let challenge_id = store_ceremony(s, "register", Some(&user.id), &state).await?;
    Ok(Options {
        challenge_id,
        public_key,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPasskey {
    pub challenge_id: String,
    pub credential: serde_json::Value,
    pub name: String,
}

/// A passkey as the account's list shows it.
#[derive(Debug, Serialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// `POST /me/passkeys`: the authenticator's answer to the registration ceremony.
pub async fn register(
    s: &SignIn<'_>,
    caller: &Caller,
    req: NewPasskey,
    meta: &RequestMeta,
) -> Result<String> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::invalid("name", "1 to 64 characters"));
    }
    let refused = || Error::invalid("credential", "does not answer this registration");
    let state: PasskeyRegistration = take_ceremony(
        s,
        &req.challenge_id,
        "register",
        Some(&caller.user_id),
        refused,
    )
    .await?;
    let credential: RegisterPublicKeyCredential =
        serde_json::from_value(req.credential).map_err(|_| refused())?;
    let passkey = relying_party(s.config)?
        .finish_passkey_registration(&credential, &state)
        .map_err(|_| refused())?;
    let id = credential_id(&passkey);
    let now = s.clock.now();
    let item = Item::new(&credential_key(&caller.user_id, &id))
        .with("name", name)
        .with(
            "passkey",
            serde_json::to_string(&passkey).map_err(|e| Error::internal("JSON encoding", e))?,
        )
        .with("counter", 0i64)
        .with("created_at", now.millis());
    s.audit
        .commit(
            UnitOfWork::from(vec![TxOp::Put {
                item,
                condition: Some(Condition::NotExists),
            }]),
            meta,
            EventType::MfaEnrolled,
            Some(&caller.user_id),
            serde_json::json!({ "method": "passkey", "credential": id }),
        )
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } => {
                Error::Conflict("this passkey is registered already".into())
            }
            e => e,
        })?;
    if let Some(user) = s.users().get(&caller.user_id).await? {
        let notice = Notice::SecondFactorChanged {
            when: now,
            change: format!("a passkey ({name}) was added"),
        };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }
    Ok(id)
}

/// `GET /me/passkeys`.
pub async fn list(s: &SignIn<'_>, caller: &Caller) -> Result<Vec<PasskeyInfo>> {
    of_user(s.table, &caller.user_id).await
}

/// The account's passkeys as its list (and its export) show them: no key material.
pub async fn of_user(table: &dyn Table, user_id: &str) -> Result<Vec<PasskeyInfo>> {
    Ok(all(table, user_id)
        .await?
        .iter()
        .map(|(item, pk)| PasskeyInfo {
            id: credential_id(pk),
            name: item.s("name").unwrap_or_default().to_string(),
            created_at: Timestamp(item.n("created_at").unwrap_or_default()).to_rfc3339(),
            last_used_at: item.n("last_used_at").map(|t| Timestamp(t).to_rfc3339()),
        })
        .collect())
}

/// `DELETE /me/passkeys/{id}`: needs a recent sign-in with two factors (a passkey's, or a
/// password and a code). The owner is told.
pub async fn remove(s: &SignIn<'_>, caller: &Caller, id: &str, meta: &RequestMeta) -> Result<()> {
    let now = s.clock.now();
    super::require_fresh_multi_factor(caller, now)?;
    if id.is_empty() || id.len() > 1400 {
        return Err(Error::NotFound);
    }
    s.audit
        .commit(
            UnitOfWork::from(vec![TxOp::Delete {
                key: credential_key(&caller.user_id, id),
                condition: Some(Condition::Exists),
            }]),
            meta,
            EventType::MfaRemoved,
            Some(&caller.user_id),
            serde_json::json!({ "method": "passkey", "credential": id }),
        )
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } => Error::NotFound,
            e => e,
        })?;
    if let Some(user) = s.users().get(&caller.user_id).await? {
        let notice = Notice::SecondFactorChanged {
            when: now,
            change: "a passkey was removed".into(),
        };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }
    Ok(())
}

/// `POST /auth/passkeys/options`: a discoverable sign-in ceremony (no name asked: asking by
/// email would tell who has an account and which credentials).
pub async fn sign_in_options(s: &SignIn<'_>) -> Result<Options> {
    let rp = relying_party(s.config)?;
    let (rcr, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| Error::internal("webauthn", e))?;
    let public_key =
        serde_json::to_value(&rcr.public_key).map_err(|e| Error::internal("JSON encoding", e))?;
    let challenge_id = store_ceremony(s, "sign_in", None, &state).await?;
    Ok(Options {
        challenge_id,
        public_key,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignIn {
    pub challenge_id: String,
    pub credential: serde_json::Value,
}

/// A verified assertion: its user, and the write that stores the credential's new counter (on
/// condition of the old one: committed with what the assertion buys, it makes one session, or
/// one step-up, of one counter).
struct Asserted {
    user_id: String,
    update: TxOp,
}

/// Checks an assertion answering the sign-in ceremony `req.challenge_id` (spent here, right or
/// wrong). Every refusal is the same 401.
async fn verify_assertion(
    s: &SignIn<'_>,
    req: PasskeySignIn,
    meta: &RequestMeta,
) -> Result<Asserted> {
    let refused = || Error::Unauthorized;
    let state: DiscoverableAuthentication =
        take_ceremony(s, &req.challenge_id, "sign_in", None, refused).await?;
    let credential: PublicKeyCredential =
        serde_json::from_value(req.credential).map_err(|_| refused())?;
    let rp = relying_party(s.config)?;
    let (handle, cred_id) = rp
        .identify_discoverable_authentication(&credential)
        .map_err(|_| refused())?;
    let user_id = crate::crypto::hex(handle.as_bytes());
    let id = crate::tokens::b64(cred_id);
    let key = credential_key(&user_id, &id);
    let table = s.table;
    let item = table.get(&key).await?.ok_or_else(refused)?;
    let mut passkey: Passkey = serde_json::from_str(item.s("passkey").unwrap_or_default())
        .map_err(|_| Error::Malformed("passkey item"))?;
    let result = match rp.finish_discoverable_authentication_v2(&credential, state, &passkey) {
        Ok(r) => r,
        Err(e) => {
            s.audit
                .record(
                    meta,
                    EventType::MfaFailed,
                    Some(&user_id),
                    serde_json::json!({ "method": "passkey", "reason": e.to_string() }),
                )
                .await?;
            return Err(refused());
        }
    };
    passkey.update_credential(&result);
    let stored = item.n("counter").unwrap_or(0);
    let now = s.clock.now();
    let update = TxOp::Update {
        key,
        update: Update::new()
            .set(
                "passkey",
                serde_json::to_string(&passkey).map_err(|e| Error::internal("JSON encoding", e))?,
            )
            .set("counter", i64::from(result.counter()))
            .set("last_used_at", now.millis())
            .when(Condition::eq("counter", stored)),
    };
    Ok(Asserted { user_id, update })
}

/// A step-up with a passkey (`POST /auth/reauthenticate {challenge_id, credential}`): the
/// assertion must be by one of the caller's own passkeys.
pub(crate) async fn step_up(
    s: &SignIn<'_>,
    caller: &Caller,
    req: PasskeySignIn,
    meta: &RequestMeta,
) -> Result<()> {
    let asserted = verify_assertion(s, req, meta).await?;
    if asserted.user_id != caller.user_id {
        return Err(Error::Unauthorized);
    }
    s.table
        .transact(vec![asserted.update])
        .await
        .map_err(|e| match e {
            Error::TransactionCancelled { .. } | Error::ConditionFailed => Error::Unauthorized,
            e => e,
        })
}

/// `POST /auth/passkeys/login`: a complete sign-in. Every refusal is the same 401.
pub async fn sign_in(
    s: &SignIn<'_>,
    req: PasskeySignIn,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<LoginOutcome> {
    let refused = || Error::Unauthorized;
    let Asserted { user_id, update } = verify_assertion(s, req, meta).await?;
    let user = s.users().get(&user_id).await?.ok_or_else(refused)?;
    if user.unverified_until.is_some() {
        return Err(Error::EmailUnverified);
    }
    let grant = Grant {
        epoch: user.token_epoch,
        scope: if user.password_breached {
            Scope::PasswordChange
        } else {
            Scope::Full
        },
        methods: Methods::PASSKEY,
    };
    let device = SignInDevice::of(s, client, &user.email);
    start_session(
        s,
        &user,
        grant,
        &device,
        meta,
        UnitOfWork::from(vec![update]),
    )
    .await
    .map_err(|e| match e {
        // Another sign-in stored this counter first: one assertion, one session.
        Error::TransactionCancelled { .. } => refused(),
        e => e,
    })
}
