//! `Services`: the wiring. Built once per process from one set of adapters ([`Backends`]) and
//! shared by every request (on the first request in Lambda: [`OnFirstUse`]), it is the one
//! place that builds what the domain's operations take: the components that hold their own
//! dependencies (the outbox, the downstream events, the audit log, the hasher, the keys) and
//! the view of each area (`sign_in()`, `accounts()`, `refresher()`, `monitor()`, `privacy()`),
//! each naming only what that area uses. No domain operation takes `Services` itself
//! (`tests/tests/layers.rs` checks it); the HTTP handlers, the runner and the tests hold it.

use std::sync::Arc;

use crate::Result;
use crate::address::{AddressTags, TagKeys};
use crate::audit::AuditLog;
use crate::backends::Backends;
use crate::config::{BreachCheck, Config};
use crate::crypto::server_secret::ServerKeys;
use crate::crypto::user_keys::UserKeys;
use crate::password::PasswordHasher;
use crate::password::breach::{BreachedPasswords, OfflineList};
use crate::password::policy::PasswordPolicy;
use crate::sessions::Lifetimes;
use crate::tokens::access::TokenIssuer;
use crate::tokens::signing_keys::SigningKeys;

pub struct Services {
    pub config: Config,
    pub backends: Backends,
    pub passwords: PasswordHasher,
    pub policy: PasswordPolicy,
    pub breach: Arc<dyn BreachedPasswords>,
    pub server_keys: ServerKeys,
    pub signing: SigningKeys,
    pub user_keys: Arc<UserKeys>,
    pub audit: AuditLog,
    /// Client addresses and device fingerprints as tags under the keys of the day.
    pub address_tags: AddressTags,
    pub rate_limiter: crate::rate_limit::RateLimiter,
    pub billing: Arc<dyn crate::billing::Billing>,
    /// Messages written with the change that causes them, then delivered.
    pub outbox: crate::mail::outbox::Outbox,
    /// Privacy events written with the change that causes them, then published.
    pub downstream: crate::privacy::downstream::Downstream,
}

/// The axum state of every function's router.
pub type AppState = Arc<Services>;

/// [`Services`] built on first use rather than at process start, for the Lambda mains.
///
/// Start-up then only parses the configuration (a bad one still stops it, naming the variable)
/// and makes the AWS clients, with no network call; the first request loads the server keys and
/// the signing keyset. Should a dependency fail then, that request fails closed (503) and the
/// next one tries again — rather than the whole cold start failing and Lambda re-running it.
/// Concurrent first requests build once.
pub struct OnFirstUse {
    config: Config,
    backends: Backends,
    breach: Arc<dyn BreachedPasswords>,
    built: tokio::sync::OnceCell<AppState>,
}

impl OnFirstUse {
    pub fn new(config: Config, backends: Backends, breach: Arc<dyn BreachedPasswords>) -> Self {
        OnFirstUse {
            config,
            backends,
            breach,
            built: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn get(&self) -> Result<AppState> {
        self.built
            .get_or_try_init(|| {
                Services::with_breach_check(
                    self.config.clone(),
                    self.backends.clone(),
                    self.breach.clone(),
                )
            })
            .await
            .cloned()
    }
}

impl Services {
    /// [`Services::with_breach_check`] with the shipped breach list, for a configuration that
    /// names it (the default); one that names the range API must pass its adapter in, so this
    /// refuses it rather than check less than was configured.
    pub async fn new(config: Config, backends: Backends) -> Result<AppState> {
        if !matches!(config.breach_check, BreachCheck::Offline) {
            return Err(crate::Error::Internal(
                "the configured breach check needs its adapter (Services::with_breach_check)"
                    .into(),
            ));
        }
        Self::with_breach_check(config, backends, Arc::new(OfflineList)).await
    }

    /// Builds everything once: the dummy hash, the server keys and the signing keyset
    /// (created on first run). Fails closed if a dependency is down.
    pub async fn with_breach_check(
        config: Config,
        backends: Backends,
        breach: Arc<dyn BreachedPasswords>,
    ) -> Result<AppState> {
        let server_keys = ServerKeys::load(
            backends.table.as_ref(),
            backends.keys.as_ref(),
            config.server_secret,
        )
        .await?;
        let passwords = PasswordHasher::new(config.argon2)?
            .with_concurrency(config.argon2_concurrency, config.argon2_queue_timeout)
            .with_pepper(server_keys.password_pepper.clone(), config.password_pepper)?;
        let signing = SigningKeys::load(
            backends.table.clone(),
            backends.keys.clone(),
            backends.clock.clone(),
        )
        .await?;
        let user_keys = Arc::new(UserKeys::new(
            backends.table.clone(),
            backends.keys.clone(),
            backends.clock.clone(),
        ));
        let address_tags = AddressTags::new(
            Arc::new(TagKeys::new(
                backends.table.clone(),
                backends.keys.clone(),
                backends.clock.clone(),
            )),
            config.ipv6_prefix,
        );
        let audit = AuditLog::new(
            backends.table.clone(),
            backends.keys.clone(),
            user_keys.clone(),
            backends.clock.clone(),
            server_keys.audit_signing.clone(),
            address_tags.clone(),
            config.audit_retention,
        );
        let policy = PasswordPolicy {
            min_chars: config.password_min_length,
            required_classes: config.password_required_classes,
            service_name: config.service_name.clone(),
        };
        let outbox = crate::mail::outbox::Outbox::new(
            backends.table.clone(),
            backends.keys.clone(),
            user_keys.clone(),
            backends.mailer.clone(),
            backends.clock.clone(),
            config.mail.clone(),
            server_keys.email_index.clone(),
        );
        let downstream = crate::privacy::downstream::Downstream::new(
            backends.table.clone(),
            backends.event_bus.clone(),
            backends.clock.clone(),
            config.downstream_recipients.clone(),
        );
        Ok(Arc::new(Services {
            outbox,
            downstream,
            config,
            passwords,
            policy,
            breach,
            server_keys,
            signing,
            user_keys,
            audit,
            address_tags,
            rate_limiter: Default::default(),
            billing: Arc::new(crate::billing::TableBilling::new(backends.table.clone())),
            backends,
        }))
    }

    /// Verifies the audit log with the digest key's public half and the digest store these
    /// backends hold (see [`crate::audit::verify`]).
    pub async fn verify_audit(&self) -> Result<crate::audit::VerifyReport> {
        let key = match &self.backends.digest_signer {
            Some(signer) => Some(signer.public_key().await?),
            None => None,
        };
        crate::audit::verify::verify(
            &self.audit,
            key.as_ref(),
            self.backends.digest_store.as_deref(),
        )
        .await
    }

    /// Writes the next signed digest of the audit log (the scan's step); `None` when another run
    /// wrote it first. Fails closed without the digest key or store.
    pub async fn write_audit_digest(&self) -> Result<Option<crate::audit::digest::SignedDigest>> {
        let (Some(signer), Some(store)) =
            (&self.backends.digest_signer, &self.backends.digest_store)
        else {
            return Err(crate::Error::Internal(
                "the audit digest key or store is not configured".into(),
            ));
        };
        crate::audit::digest::write(&self.audit, signer.as_ref(), store.as_ref()).await
    }

    /// A second audit log over the same table and keys (another process's view of the log, or,
    /// with [`AuditLog::in_namespace`], another log).
    pub fn new_audit_log(&self) -> AuditLog {
        AuditLog::new(
            self.backends.table.clone(),
            self.backends.keys.clone(),
            self.user_keys.clone(),
            self.backends.clock.clone(),
            self.server_keys.audit_signing.clone(),
            self.address_tags.clone(),
            self.config.audit_retention,
        )
    }

    /// What a refresh uses ([`crate::refresh::Refresher`]).
    pub fn refresher(&self) -> crate::refresh::Refresher<'_> {
        crate::refresh::Refresher {
            table: self.backends.table.as_ref(),
            clock: self.backends.clock.as_ref(),
            server_keys: &self.server_keys,
            audit: &self.audit,
            rate_limiter: &self.rate_limiter,
            lifetimes: self.session_lifetimes(),
            tokens: self.tokens(),
            users: self.users(),
            outbox: &self.outbox,
        }
    }

    /// What a sign-in and its second factors use ([`crate::login::SignIn`]).
    pub fn sign_in(&self) -> crate::login::SignIn<'_> {
        crate::login::SignIn {
            table: self.backends.table.as_ref(),
            clock: self.backends.clock.as_ref(),
            config: &self.config,
            passwords: &self.passwords,
            breach: self.breach.as_ref(),
            audit: &self.audit,
            server_keys: &self.server_keys,
            user_keys: &self.user_keys,
            outbox: &self.outbox,
            signing: &self.signing,
        }
    }

    /// What the account's own operations use ([`crate::account::Accounts`]).
    pub fn accounts(&self) -> crate::account::Accounts<'_> {
        crate::account::Accounts {
            sign_in: self.sign_in(),
            policy: &self.policy,
            downstream: &self.downstream,
        }
    }

    /// What the privacy workflows use ([`crate::privacy::Privacy`]).
    pub fn privacy(&self) -> crate::privacy::Privacy<'_> {
        crate::privacy::Privacy {
            sign_in: self.sign_in(),
            keys: self.backends.keys.as_ref(),
            photos: self.backends.photos.as_ref(),
            exports: self.backends.exports.as_ref(),
            downstream: &self.downstream,
            billing: self.billing.as_ref(),
        }
    }

    /// What the security monitor uses ([`crate::monitor::Monitor`]).
    pub fn monitor(&self) -> crate::monitor::Monitor<'_> {
        crate::monitor::Monitor {
            table: self.backends.table.as_ref(),
            clock: self.backends.clock.as_ref(),
            config: &self.config,
            audit: &self.audit,
            outbox: &self.outbox,
            users: self.users(),
        }
    }

    pub fn tokens(&self) -> TokenIssuer<'_> {
        TokenIssuer::new(&self.signing, &self.config)
    }

    pub fn users(&self) -> crate::users::Users<'_> {
        crate::users::Users::new(
            self.backends.table.as_ref(),
            &self.server_keys.email_index,
            &self.user_keys,
        )
    }

    pub fn session_lifetimes(&self) -> Lifetimes {
        self.config.session_lifetimes()
    }

    pub fn login_limits(&self) -> crate::lockout::Limits {
        self.config.login_limits()
    }
}
