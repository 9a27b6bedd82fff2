//! The CCPA opt-out of sale and sharing (§ 1798.120): a flag on the user's profile, set by a
//! `do_not_sell` request or by a `Sec-GPC: 1` header on any authenticated request
//! (§ 7025: Global Privacy Control is a valid opt-out, no further verification). The guard
//! reads the profile on every authenticated request anyway, so an already opted-out user costs
//! nothing more; the first signal costs one conditional write, and only the writer that flips
//! the flag records the audit event.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::table::{Condition, Table, Update, Value};
use crate::users::{Profile, attr, profile_key};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Request,
    GlobalPrivacyControl,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Request => "request",
            Source::GlobalPrivacyControl => "global_privacy_control",
        }
    }
}

/// The privacy settings as exported and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrivacySettings {
    pub do_not_sell: bool,
    pub source: Option<String>,
    pub since: Option<String>,
}

pub fn settings(profile: &Profile) -> PrivacySettings {
    PrivacySettings {
        do_not_sell: profile.sale.opted_out,
        source: profile.sale.source.clone(),
        since: profile.sale.at.map(Timestamp::to_rfc3339),
    }
}

/// Withdraws the opt-out (the user opted back in, in two steps): the profile after the write
/// if this call cleared it (`None`: it was not set).
pub async fn withdraw(table: &dyn Table, user_id: &str, now: Timestamp) -> Result<Option<Profile>> {
    let update = Update::new()
        .set(attr::DO_NOT_SELL, false)
        .set(attr::DO_NOT_SELL_SOURCE, "opt_in_request")
        .set(attr::DO_NOT_SELL_AT, now.millis())
        .when(Condition::Exists.and(Condition::eq(attr::DO_NOT_SELL, true)));
    match table.update(&profile_key(user_id), update).await {
        Ok(profile) => Profile::from_item(&profile).map(Some),
        Err(Error::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records the opt-out; the profile after the write if this call set it (`None`: it was
/// already set).
pub async fn record(
    table: &dyn Table,
    user_id: &str,
    source: Source,
    now: Timestamp,
) -> Result<Option<Profile>> {
    let update = Update::new()
        .set(attr::DO_NOT_SELL, true)
        .set(attr::DO_NOT_SELL_SOURCE, source.as_str())
        .set(attr::DO_NOT_SELL_AT, now.millis())
        .when(
            Condition::Exists.and(
                Condition::AttributeNotExists(attr::DO_NOT_SELL.into())
                    .or(Condition::Ne(attr::DO_NOT_SELL.into(), Value::Bool(true))),
            ),
        );
    match table.update(&profile_key(user_id), update).await {
        Ok(profile) => Profile::from_item(&profile).map(Some),
        Err(Error::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}
