//! Refresh: a refresh token in, a new access token and a rotated refresh token out — the
//! orchestration of `POST /auth/refresh`, as [`crate::login`] is of a sign-in. The `refresh`
//! function reads the cookie and the device signals and writes the answer; the steps are here:
//! rotate the family (charging the rate limit the guard deferred, see [`sessions::Charge`]),
//! tell the user when a reused token ended every session, and sign the access token from what
//! the family carries (no profile read: a refresh is one table round trip).

use std::net::IpAddr;
use std::time::Duration;

use crate::audit::{AuditLog, RequestMeta};
use crate::clock::{Clock, Timestamp};
use crate::crypto::server_secret::ServerKeys;
use crate::devices::{DeviceSignals, Fingerprints};
use crate::mail::Notice;
use crate::mail::outbox::Outbox;
use crate::rate_limit::{Allowance, Policy, RateLimiter, ip_bucket};
use crate::sessions::{self, Lifetimes, Refused};
use crate::table::Table;
use crate::tokens::access::TokenIssuer;
use crate::users::Users;
use crate::{Error, Result};

/// What the transport sends back: the access token, and the rotated refresh token for its
/// cookie.
pub struct Refreshed {
    pub access_token: String,
    pub refresh_token: String,
    pub refresh_max_age: Duration,
    /// What is left of the API rate limit, when this refresh was charged (the guard deferred it).
    pub allowance: Option<Allowance>,
}

/// What a refresh uses, and nothing else (the wiring builds it: `Services::refresher`).
pub struct Refresher<'a> {
    pub table: &'a dyn Table,
    pub clock: &'a dyn Clock,
    pub server_keys: &'a ServerKeys,
    pub audit: &'a AuditLog,
    pub rate_limiter: &'a RateLimiter,
    pub lifetimes: Lifetimes,
    pub tokens: TokenIssuer<'a>,
    pub users: Users<'a>,
    pub outbox: &'a Outbox,
}

impl Refresher<'_> {
    /// Rotates `presented` for the device that sends `device`, from `ip`; `deferred` is the
    /// rate limit the guard left to the rotation's write. Every refusal is
    /// [`Error::Unauthorized`].
    pub async fn refresh(
        &self,
        presented: &str,
        device: &DeviceSignals,
        ip: IpAddr,
        deferred: Option<Policy>,
        meta: &RequestMeta,
    ) -> Result<Refreshed> {
        let now = self.clock.now();
        let fingerprints = Fingerprints::of(&self.server_keys.fingerprint, device);
        let charge = match deferred {
            Some(policy) => Some(sessions::Charge {
                limiter: self.rate_limiter,
                policy,
                ip_bucket: ip_bucket(&self.audit.address_tags(ip).await?.current),
            }),
            None => None,
        };
        let rotation = sessions::Rotation {
            table: self.table,
            keys: self.server_keys,
            audit: self.audit,
            meta,
            device: &fingerprints,
            now,
            lifetimes: self.lifetimes,
            charge,
        };
        let r = match sessions::refresh(&rotation, presented).await? {
            Ok(r) => r,
            Err(Refused::ReuseDetected { user_id }) => {
                self.tell_sessions_ended(&user_id, now).await?;
                return Err(Error::Unauthorized);
            }
        };
        let access_token = self
            .tokens
            .issue(&r.user_id, &r.sid, r.grant, r.auth_time, now)
            .await?;
        Ok(Refreshed {
            access_token,
            refresh_max_age: r.expires_at.since(now),
            refresh_token: r.token,
            allowance: r.allowance,
        })
    }

    /// A reused token ended every session of `user_id`: tell them (a failed delivery never
    /// fails the answer).
    async fn tell_sessions_ended(&self, user_id: &str, now: Timestamp) -> Result<()> {
        if let Some(user) = self.users.get(user_id).await? {
            let notice = Notice::SessionsEnded {
                when: now,
                reason: "a sign-in token was used twice, which means it may have been stolen"
                    .into(),
            };
            self.outbox.notify(&user.id, &user.email, &notice).await;
        }
        Ok(())
    }
}
