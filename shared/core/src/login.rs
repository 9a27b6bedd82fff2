//! Login: the lockout gate, Argon2 verification (a dummy hash for unknown emails), the
//! breach check (fail soft), rotation prompts, a new session and its tokens.
//!
//! Every credential failure is the same 401 and every lock the same 429, for known and unknown
//! emails alike; the order of table calls does not depend on whether the account exists.
//!
//! The critical path of a sign-in from a known device is three table round trips, the hash
//! aside: the address gate and the email claim together; the attempt reservation and the
//! profile together; then one transaction with the session, the activity entry, the counter
//! reset, the known device's update and the audit entry. (A new device costs two more writes
//! and its own audit entry, after that transaction is refused on the device's update.)

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::AuditLog;
use crate::audit::{EventType, RequestMeta};
use crate::client::ClientSignals;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::server_secret::ServerKeys;
use crate::crypto::user_keys::UserKeys;
use crate::devices;
use crate::lockout::{self, Gate};
use crate::mail::Notice;
use crate::mail::outbox::Outbox;
use crate::password::PasswordHasher;
use crate::password::breach::BreachedPasswords;
use crate::password::policy::normalize;
use crate::secret::SecretString;
use crate::sessions;
use crate::table::Table;
use crate::table::TxOp;
use crate::table::UnitOfWork;
use crate::tokens::access::TokenIssuer;
use crate::tokens::access::{ACCESS_TTL, Methods, Scope};
use crate::tokens::signing_keys::SigningKeys;
use crate::users::normalize_email;
use crate::{Error, Result};

/// What a sign-in and its second factors use, and nothing else: the table, the clock, the
/// settings, the password hasher and breach check, the audit log, the server and data keys,
/// the outbox and the signing keys. The wiring builds it (`Services::sign_in`); `login`,
/// `mfa` and the password check of `account` take it.
pub struct SignIn<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
    pub config: &'a Config,
    pub passwords: &'a PasswordHasher,
    pub breach: &'a dyn BreachedPasswords,
    pub audit: &'a AuditLog,
    pub server_keys: &'a ServerKeys,
    pub user_keys: &'a UserKeys,
    pub outbox: &'a Outbox,
    pub signing: &'a SigningKeys,
}

impl<'a> SignIn<'a> {
    pub fn users(&self) -> crate::users::Users<'a> {
        crate::users::Users::new(self.table, &self.server_keys.email_index, self.user_keys)
    }

    pub fn tokens(&self) -> TokenIssuer<'a> {
        TokenIssuer::new(self.signing, self.config)
    }

    pub fn login_limits(&self) -> lockout::Limits {
        self.config.login_limits()
    }

    pub fn session_lifetimes(&self) -> sessions::Lifetimes {
        self.config.session_lifetimes()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: SecretString,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub password_rotation_due: bool,
    pub password_change_required: bool,
}

/// What a correct password earns: a session, or — when the account has a second factor — the
/// second step's challenge (no token, no cookie).
pub enum LoginResult {
    Session(LoginOutcome),
    SecondFactor(SecondFactorRequired),
}

/// `200 {mfa_required: true, mfa_token, methods, expires_in}`.
#[derive(Debug, Serialize)]
pub struct SecondFactorRequired {
    pub mfa_required: bool,
    pub mfa_token: String,
    /// What completes the sign-in: `totp` (`POST /auth/mfa/totp`), `recovery`
    /// (`POST /auth/mfa/recovery`), and `passkey` when the account holds one (a sign-in of its
    /// own: `POST /auth/passkeys/options`, then `/auth/passkeys/login`).
    pub methods: Vec<&'static str>,
    pub expires_in: u64,
}

/// What the HTTP layer sends back: the body, and what goes into the cookies it sets.
pub struct LoginOutcome {
    pub body: LoginResponse,
    /// The refresh token, and how long its cookie should live.
    pub refresh_token: String,
    pub refresh_max_age: Duration,
    /// A new device cookie's value, for a device not yet known.
    pub new_device_cookie: Option<String>,
    /// The device's id: the known device's, or the one the new cookie names.
    pub device_id: String,
}

/// The device a sign-in comes from, read once per request: the keyed fingerprint of its
/// signals, the account's email index, and its device id when its cookie is signed for that
/// account.
pub(crate) struct SignInDevice {
    pub fingerprint: String,
    pub account: String,
    pub known: Option<String>,
}

impl SignInDevice {
    pub(crate) fn of(s: &SignIn<'_>, client: &ClientSignals, email: &str) -> SignInDevice {
        let fingerprint = devices::fingerprint(&s.server_keys.fingerprint, &client.device);
        Self::with_fingerprint(s, client, fingerprint, email)
    }

    /// As [`SignInDevice::of`], for a caller that computed the fingerprint already.
    pub(crate) fn with_fingerprint(
        s: &SignIn<'_>,
        client: &ClientSignals,
        fingerprint: String,
        email: &str,
    ) -> SignInDevice {
        let account = s.users().index(email);
        SignInDevice {
            fingerprint,
            known: client.known_device(&s.server_keys.device_cookie, &account),
            account,
        }
    }
}

/// `POST /auth/login`: the steps of a sign-in, each below.
pub async fn login(
    s: &SignIn<'_>,
    req: LoginRequest,
    client: &ClientSignals,
    meta: &RequestMeta,
) -> Result<LoginResult> {
    // Size first: an oversized password never reaches normalisation or Argon2.
    let password = normalize(&req.password)?;
    let email = normalize_email(&req.email)?;
    let attempt = Attempt::begin(s, &email, client, meta).await?;
    let user = attempt.verify(s, &password, meta).await?;
    attempt.refuse_unverified(s, &user, meta).await?;
    upgrade_hash(s, &user, &password).await?;
    let standing = breach_check(s, &user, &password, meta).await?;
    if let Some(second) = attempt.second_step(s, &user, standing, meta).await? {
        return Ok(LoginResult::SecondFactor(second));
    }
    let reset = UnitOfWork::from(vec![lockout::success_op(&attempt.counter)]);
    start_session(s, &user, standing.grant(), &attempt.device, meta, reset)
        .await
        .map(LoginResult::Session)
}

/// One sign-in attempt once it may try: its device, its counters, its reserved attempt number,
/// and the account the email names (if any).
struct Attempt {
    device: SignInDevice,
    /// The account's failure counter (its own, or its known device's).
    counter: crate::table::Key,
    /// The client address's failure counter.
    ip_key: crate::table::Key,
    /// This attempt's number on `counter`.
    n: u32,
    user: Option<crate::users::User>,
}

impl Attempt {
    /// Round trip 1: the address gate and the email claim (they need nothing from each
    /// other); round trip 2: the attempt's reservation (only once the address may try) and the
    /// profile. Known and unknown emails make the same calls in the same order.
    async fn begin(
        s: &SignIn<'_>,
        email: &str,
        client: &ClientSignals,
        meta: &RequestMeta,
    ) -> Result<Attempt> {
        let ip: IpAddr = meta
            .ip
            .ok_or_else(|| Error::Internal("no client IP on a login request".into()))?;
        let table = s.table;
        let now = s.clock.now();
        let users = s.users();
        let device = SignInDevice::of(s, client, email);
        let ip_tags = s.audit.address_tags(ip).await?;
        let ip_key = lockout::ip_counter(&ip_tags.current);
        let counter = lockout::account_counter(&device.account, device.known.as_deref());
        let (refused, uid) = tokio::join!(
            lockout::ip_refused(
                table,
                &ip_tags.current,
                ip_tags.previous_within(earlier_reach(s)),
                s.config.login_ip_max_failures,
                now,
            ),
            users.id_by_email(email),
        );
        if let Some(retry_after) = refused? {
            return Err(Error::TooManyRequests { retry_after });
        }
        let uid = uid?;
        let (n, user) = tokio::join!(reserve_attempt(s, meta, &counter, uid.as_deref()), async {
            match &uid {
                Some(id) => users.get(id).await,
                None => Ok(None),
            }
        });
        let (n, user) = (n?, user?);
        if let Some(u) = &user
            && let Some(shard) = u.audit_shard
        {
            s.audit.remember_shard(&u.id, shard);
        }
        Ok(Attempt {
            device,
            counter,
            ip_key,
            n,
            user,
        })
    }

    /// Argon2 against the account's hash, or the dummy hash for an unknown email; a wrong
    /// password counts on the address and the account, and is recorded with the device's tags.
    async fn verify(
        &self,
        s: &SignIn<'_>,
        password: &SecretString,
        meta: &RequestMeta,
    ) -> Result<crate::users::User> {
        let user = self.user.as_ref();
        let verified = s
            .passwords
            .verify(password, user.map(|u| u.password_hash.as_str()))
            .await?;
        if let (true, Some(u)) = (verified, user) {
            return Ok(u.clone());
        }
        let now = s.clock.now();
        lockout::count_failure(s.table, &self.ip_key, s.config.login_window, now).await?;
        let uid = user.map(|u| u.id.as_str());
        // The device tags let the monitor see one client failing across many accounts and
        // addresses (credential stuffing by fingerprint).
        let details = serde_json::json!({ "attempt": self.n });
        let details = device_details(s, &self.device.fingerprint, details).await?;
        s.audit
            .record(meta, EventType::LoginFailed, uid, details)
            .await?;
        count_failed_attempt(s, meta, &self.counter, self.n, uid).await?;
        Err(Error::Unauthorized)
    }

    /// The password is right, but the address was never proved: no session. The attempt
    /// counter is reset as for any correct password (its owner is not guessing).
    async fn refuse_unverified(
        &self,
        s: &SignIn<'_>,
        user: &crate::users::User,
        meta: &RequestMeta,
    ) -> Result<()> {
        if user.unverified_until.is_none() {
            return Ok(());
        }
        s.audit
            .commit(
                UnitOfWork::from(vec![lockout::success_op(&self.counter)]),
                meta,
                EventType::LoginRefusedUnverified,
                Some(&user.id),
                serde_json::json!({}),
            )
            .await?;
        Err(Error::EmailUnverified)
    }

    /// An account with a second factor, on a device it has not remembered, gets the second
    /// step's challenge instead of a session (its counter resets: the password was right).
    async fn second_step(
        &self,
        s: &SignIn<'_>,
        user: &crate::users::User,
        standing: Standing,
        meta: &RequestMeta,
    ) -> Result<Option<SecondFactorRequired>> {
        let remembered = match (&self.device.known, user.second_factor && !standing.breached) {
            (Some(device), true) => {
                crate::mfa::remembered::is_remembered(s, &user.id, device).await?
            }
            _ => false,
        };
        if !user.second_factor || remembered {
            return Ok(None);
        }
        let now = s.clock.now();
        let fp = &self.device.fingerprint;
        let (mfa_token, challenge) = crate::mfa::challenge::issue(s, &user.id, fp, now)?;
        s.audit
            .commit(
                UnitOfWork::from(vec![challenge, lockout::success_op(&self.counter)]),
                meta,
                EventType::MfaRequired,
                Some(&user.id),
                device_details(s, fp, serde_json::json!({})).await?,
            )
            .await?;
        Ok(Some(SecondFactorRequired {
            mfa_required: true,
            mfa_token,
            methods: if crate::mfa::passkeys::has_any(s.table, &user.id).await? {
                vec!["totp", "recovery", "passkey"]
            } else {
                vec!["totp", "recovery"]
            },
            expires_in: crate::mfa::challenge::LIFETIME.as_secs(),
        }))
    }
}

/// Rehashes a password stored under older Argon2 parameters. A concurrent password change
/// wins; the rehash is only an upgrade.
async fn upgrade_hash(
    s: &SignIn<'_>,
    user: &crate::users::User,
    password: &SecretString,
) -> Result<()> {
    if !s.passwords.needs_rehash(&user.password_hash) {
        return Ok(());
    }
    let new_hash = s.passwords.hash(password).await?;
    match s
        .users()
        .set_password_hash(&user.id, &user.password_hash, &new_hash, None)
        .await
    {
        Ok(()) | Err(Error::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether the password is known breached after this sign-in, and the token epoch the
/// session gets.
#[derive(Debug, Clone, Copy)]
struct Standing {
    breached: bool,
    epoch: i64,
}

impl Standing {
    /// A breached password's session may only change the password.
    fn grant(self) -> sessions::Grant {
        sessions::Grant {
            epoch: self.epoch,
            scope: if self.breached {
                Scope::PasswordChange
            } else {
                Scope::Full
            },
            methods: Methods::PASSWORD,
        }
    }
}

/// The breach check, failing soft: the sign-in goes on either way. A newly breached password
/// is flagged, every session of the account ends (whoever else holds the password may hold
/// them), and the user is told.
async fn breach_check(
    s: &SignIn<'_>,
    user: &crate::users::User,
    password: &SecretString,
    meta: &RequestMeta,
) -> Result<Standing> {
    let mut standing = Standing {
        breached: user.password_breached,
        epoch: user.token_epoch,
    };
    if standing.breached {
        return Ok(standing);
    }
    match s.breach.times_seen(password).await {
        Ok(0) => {}
        Ok(_) => {
            standing.breached = true;
            s.users().flag_breached(&user.id).await?;
            let table = s.table;
            if let Some(e) = sessions::revoke_all(table, &user.id, None).await?.epoch {
                standing.epoch = e;
            }
            let notice = Notice::SessionsEnded {
                when: s.clock.now(),
                reason: "the password was found in a known data breach; choose a new one".into(),
            };
            s.outbox.notify(&user.id, &user.email, &notice).await;
            s.audit
                .record(
                    meta,
                    EventType::PasswordBreachDetected,
                    Some(&user.id),
                    serde_json::json!({}),
                )
                .await?;
        }
        Err(e) => {
            tracing::warn!(error = %e, "breach check unavailable at login; continuing");
            s.audit
                .record(
                    meta,
                    EventType::BreachCheckUnavailable,
                    Some(&user.id),
                    serde_json::json!({}),
                )
                .await?;
        }
    }
    Ok(standing)
}

/// The session a proved sign-in gets (a password, or a password and a second factor): its
/// family, its access token, and — round trip 3, one write — the session, the sign-in's activity
/// entry, the caller's `work` (the reset of the attempt counter; a second step's consumed
/// challenge and spent code), the known device's update and the audit entry, one unit of work.
/// A session never exists without its login event, nor the event without the session.
pub(crate) async fn start_session(
    s: &SignIn<'_>,
    user: &crate::users::User,
    grant: sessions::Grant,
    device: &SignInDevice,
    meta: &RequestMeta,
    work: UnitOfWork,
) -> Result<LoginOutcome> {
    let ip: IpAddr = meta
        .ip
        .ok_or_else(|| Error::Internal("no client IP on a login request".into()))?;
    let table = s.table;
    let now = s.clock.now();
    let (fp, account) = (&device.fingerprint, &device.account);
    let lifetimes = s.session_lifetimes();
    let family = sessions::new_family(&user.id, fp, grant, now, lifetimes)?;
    let access = s
        .tokens()
        .issue(&user.id, &family.sid, grant, now, now)
        .await?;
    let sign_in = crate::activity::sign_in_item(s.user_keys, &user.id, fp, ip, now).await?;
    let mut writes = UnitOfWork::new();
    writes.add(family.write);
    writes.add(TxOp::Put {
        item: sign_in,
        condition: None,
    });
    writes.extend(work.into_ops());
    let seen = writes.add(devices::seen_op(s.user_keys, &user.id, fp, ip, now).await?);
    let details = serde_json::json!({ "sid": family.sid, "amr": grant.methods.amr() });
    let mut new_device = false;
    let recorded = s
        .audit
        .commit(
            writes.clone(),
            meta,
            EventType::LoginSucceeded,
            Some(&user.id),
            details.clone(),
        )
        .await;
    match recorded {
        Ok(_) => {}
        // Only the known device's update failed: the device is new. Record it, then sign in.
        Err(e) if seen.alone_failed(&e) => {
            if devices::add(table, s.user_keys, &user.id, fp, ip, now).await? {
                s.audit
                    .record(
                        meta,
                        EventType::NewDevice,
                        Some(&user.id),
                        device_details(s, fp, serde_json::json!({})).await?,
                    )
                    .await?;
                new_device = true;
            }
            writes.drop_last(seen)?;
            s.audit
                .commit(
                    writes,
                    meta,
                    EventType::LoginSucceeded,
                    Some(&user.id),
                    details,
                )
                .await?;
        }
        Err(e) => return Err(e),
    }
    let refresh = family.token;
    // The account's first device is its registration's, not news: announce the ones after it.
    if new_device
        && devices::known(table, &user.id).await?.len() > 1
        && notices_of_new_devices(s, &user.id).await
    {
        let notice = Notice::NewDevice {
            when: now,
            device: devices::describe(meta.user_agent.as_deref()),
            network: devices::stranger_network(ip),
        };
        s.outbox.notify(&user.id, &user.email, &notice).await;
    }

    let (device_id, new_device_cookie) = match device.known.clone() {
        Some(id) => (id, None),
        None => {
            let id = crate::crypto::hex(&crate::crypto::random_bytes::<16>()?);
            let cookie = devices::device_cookie(&s.server_keys.device_cookie, &id, account);
            (id, Some(cookie))
        }
    };
    Ok(LoginOutcome {
        body: LoginResponse {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TTL.as_secs(),
            password_rotation_due: now.since(user.password_changed_at) >= s.config.password_max_age,
            password_change_required: grant.scope == Scope::PasswordChange,
        },
        refresh_token: refresh,
        refresh_max_age: lifetimes.absolute.min(Duration::from_secs(400 * 86_400)),
        new_device_cookie,
        device_id,
    })
}

/// Reserves a password attempt on `counter` (see [`lockout::reserve`]): 429 when locked; records
/// the unlock when this attempt is the first after a lock ended. Login and password change
/// both guess passwords, so both go through here.
pub(crate) async fn reserve_attempt(
    s: &SignIn<'_>,
    meta: &RequestMeta,
    counter: &crate::table::Key,
    user_id: Option<&str>,
) -> Result<u32> {
    let now = s.clock.now();
    match lockout::reserve(s.table, counter, s.login_limits(), now).await? {
        Gate::Locked { retry_after } => Err(Error::TooManyRequests { retry_after }),
        Gate::Proceed { n, unlocked } => {
            if unlocked {
                let details = serde_json::json!({ "counter": counter.sk });
                s.audit
                    .record(meta, EventType::AccountUnlocked, user_id, details)
                    .await?;
            }
            Ok(n)
        }
    }
}

/// Whether the user wants to hear of sign-ins from new devices (the one notice they may turn
/// off: preference `new_device_notice: false`). Unreadable preferences mean yes.
async fn notices_of_new_devices(s: &SignIn<'_>, user_id: &str) -> bool {
    let table = s.table;
    match crate::profile::Preferences::load(table, s.user_keys, user_id).await {
        Ok(p) => p.0.get(NEW_DEVICE_NOTICE) != Some(&serde_json::Value::Bool(false)),
        Err(_) => true,
    }
}

/// The preference that turns the new-device notice off.
pub const NEW_DEVICE_NOTICE: &str = "new_device_notice";

/// Counts the failed attempt `n`; when it locks the account, records the lock and mails the
/// owner a notice with a reset link (the way out). A lock ends no session: failed guesses prove
/// the guesser lacks the password, and ending the owner's sessions would hand anyone who knows
/// the address a way to log them out.
pub(crate) async fn count_failed_attempt(
    s: &SignIn<'_>,
    meta: &RequestMeta,
    counter: &crate::table::Key,
    n: u32,
    user_id: Option<&str>,
) -> Result<()> {
    let table = s.table;
    let now = s.clock.now();
    if let Some(until) = lockout::record_failure(table, counter, n, s.login_limits(), now).await? {
        let details = serde_json::json!({ "until": until.to_rfc3339(), "counter": counter.sk });
        s.audit
            .record(meta, EventType::AccountLocked, user_id, details)
            .await?;
        if let Some(user) = match user_id {
            Some(id) => s.users().get(id).await?,
            None => None,
        } {
            let notice = |link| Notice::AccountLocked { until, link };
            let public_url = &s.config.mail.branding.public_url;
            let sent =
                crate::recovery::send_link(s.table, s.outbox, public_url, &user, notice, now);
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, "the lock notice could not be queued");
            }
        }
    }
    Ok(())
}

/// How long after midnight an address's counter or block under yesterday's tag can still
/// matter: a failure window that began before midnight, or a block the scan placed under
/// yesterday's tag (for events just before midnight, on a run up to an hour late). Past it,
/// logins read today's tag only — one query, not two.
fn earlier_reach(s: &SignIn<'_>) -> std::time::Duration {
    s.config.login_window.max(s.config.monitor.block) + std::time::Duration::from_secs(3600)
}

/// `details` with the device's tags (under today's key and yesterday's): what an audit entry
/// names a device by. Not the fingerprint itself, whose key does not rotate.
async fn device_details(
    s: &SignIn<'_>,
    fingerprint: &str,
    mut details: serde_json::Value,
) -> Result<serde_json::Value> {
    let tags = s.audit.device_tags(fingerprint).await?;
    details["device"] = tags.current.into();
    if let Some(previous) = tags.previous {
        details["device_prev"] = previous.into();
    }
    Ok(details)
}
