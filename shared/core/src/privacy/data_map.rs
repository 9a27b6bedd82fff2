//! The user's data, defined once.
//!
//! [`DATA_MAP`] names every kind of data Warden holds about a user: where it lives, why it is
//! held, on what legal basis, for how long, who receives it and where it came from. The export
//! writes one section of `data.json` per entry and copies the manifest's Art. 15(1) information
//! from it; the erasure has one step per [`Erasure`] kind, and a test checks that every entry's
//! erasure kind is handled by a step and every entry's export section is written. A new kind of
//! data therefore cannot be added to one workflow and forgotten by the other: it is added here.

use serde::Serialize;

/// Where a kind of data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// Items of the user's partition `USER#{id}` whose sort key starts with the prefix.
    UserPartition(&'static str),
    /// Items outside the user's partition, keyed by the user id or the email's blind index.
    Keyed(&'static str),
    /// Objects of the photo bucket under `users/{id}/photos/`.
    PhotoBucket,
    /// Objects of the export bucket under `exports/{id}/`.
    ExportBucket,
    /// Entries of the audit log's user index (`AUDITUSER#{id}`).
    AuditLog,
}

/// How the erasure removes a kind of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Erasure {
    /// Refresh families ended first, so no session outlives the request.
    RevokeSessions,
    /// Cancelled through the `Billing` port, then deleted with the partition.
    CancelSubscriptions,
    /// Every object, version and delete marker under the user's photo prefix.
    PurgePhotos,
    /// Every export object of the user.
    PurgeExports,
    /// The email claim and the login failure counters (keyed by the email's blind index).
    DeleteLoginState,
    /// Deleted with the user's partition (paginated, batched).
    DeletePartition,
    /// Kept (legal obligation, security: Art. 17(3)(b),(e)), pseudonymous: the personal part is
    /// encrypted under the user's data key, which the erasure shreds.
    ShredKey,
}

/// One kind of personal data.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Category {
    /// The `data.json` section and manifest name.
    pub name: &'static str,
    pub description: &'static str,
    pub location: Location,
    /// Art. 15(1)(a): the purposes of the processing.
    pub purpose: &'static str,
    /// Art. 6(1) basis.
    pub legal_basis: &'static str,
    /// Art. 15(1)(c): recipients or categories of recipients.
    pub recipients: &'static str,
    /// Art. 15(1)(d): how long it is kept.
    pub retention: &'static str,
    /// Art. 15(1)(g): where it came from.
    pub source: &'static str,
    /// The `data.json` section the user receives it in (Art. 15, and Art. 20's portable form
    /// for data they provided), or `None` when it is not exported.
    pub export: Option<Section>,
    pub erasure: Erasure,
}

const APP: &str =
    "the operator of this service; its processors AWS (hosting, storage, key management)";

/// The sections of an export's `data.json`: the export matches on this exhaustively, so a
/// category marked exported cannot lack its exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Profile,
    Preferences,
    PrivacySettings,
    Activity,
    Sessions,
    Devices,
    Photos,
    Subscriptions,
    PrivacyRequests,
    SecurityEvents,
}

/// Everything Warden holds about a user.
pub const DATA_MAP: &[Category] = &[
    Category {
        name: "profile",
        description: "user id, email address, display name, account creation and password change times (never the password hash)",
        location: Location::UserPartition("PROFILE"),
        purpose: "providing the account and signing in",
        legal_basis: "contract (Art. 6(1)(b))",
        recipients: APP,
        retention: "until the account is erased",
        source: "provided by the user at registration and in profile updates",
        export: Some(Section::Profile),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "preferences",
        description: "settings the user chose",
        location: Location::UserPartition("PREFERENCES"),
        purpose: "applying the user's settings",
        legal_basis: "contract (Art. 6(1)(b))",
        recipients: APP,
        retention: "until changed or the account is erased",
        source: "provided by the user",
        export: Some(Section::Preferences),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "privacy_settings",
        description: "the do-not-sell-or-share opt-out, its source (request or Global Privacy Control) and time",
        location: Location::UserPartition("PROFILE"),
        purpose: "honouring the user's opt-out (CCPA 1798.120, 1798.135)",
        legal_basis: "legal obligation (Art. 6(1)(c))",
        recipients: APP,
        retention: "until the account is erased",
        source: "the user's request or the browser's Sec-GPC signal",
        export: Some(Section::PrivacySettings),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "activity",
        description: "sign-in history: time, device and network prefix of each successful sign-in",
        location: Location::UserPartition("ACTIVITY#"),
        purpose: "letting the user review their account's use; detecting account takeover",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "one year per entry, or until the account is erased",
        source: "observed when the user signs in",
        export: Some(Section::Activity),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "sessions",
        description: "signed-in sessions: device label, creation and last use (never the refresh token)",
        location: Location::UserPartition("SESSION#"),
        purpose: "keeping the user signed in and letting them end sessions",
        legal_basis: "contract (Art. 6(1)(b))",
        recipients: APP,
        retention: "30 days at most per session",
        source: "observed when the user signs in and refreshes",
        export: Some(Section::Sessions),
        erasure: Erasure::RevokeSessions,
    },
    Category {
        name: "devices",
        description: "known devices: a keyed hash of browser signals, first and last seen, coarse network prefix",
        location: Location::UserPartition("DEVICE#"),
        purpose: "recognising new devices and binding sessions to devices",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "until the account is erased",
        source: "observed from the user's browser",
        export: Some(Section::Devices),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "photos",
        description: "images the user uploaded",
        location: Location::PhotoBucket,
        purpose: "showing the user's photos",
        legal_basis: "contract (Art. 6(1)(b))",
        recipients: APP,
        retention: "until deleted; deleted versions are purged at erasure",
        source: "provided by the user",
        export: Some(Section::Photos),
        erasure: Erasure::PurgePhotos,
    },
    Category {
        name: "subscriptions",
        description: "plans, their state and dates",
        location: Location::UserPartition("SUBSCRIPTION#"),
        purpose: "billing the services the user subscribed to",
        legal_basis: "contract (Art. 6(1)(b))",
        recipients: "the operator's billing provider",
        retention: "until cancelled and the account is erased",
        source: "the user's purchases",
        export: Some(Section::Subscriptions),
        erasure: Erasure::CancelSubscriptions,
    },
    Category {
        name: "privacy_requests",
        description: "the user's GDPR and CCPA requests: type, times, due date, state history",
        location: Location::Keyed("PRIVREQ#{request_id}"),
        purpose: "answering the user's requests and proving that they were answered on time",
        legal_basis: "legal obligation (Art. 6(1)(c); CCPA regulations 7101: records kept 24 months)",
        recipients: APP,
        retention: "24 months; after an erasure only a pseudonymous receipt remains",
        source: "the user's requests",
        export: Some(Section::PrivacyRequests),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "login_state",
        description: "the email uniqueness claim (a keyed hash of the email) and failed sign-in counters",
        location: Location::Keyed("EMAIL#{email index}, LOGIN#{email index}"),
        purpose: "keeping emails unique; locking accounts under password guessing",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "counters: one hour to one day; the claim: until the account is erased",
        source: "derived from the user's email and sign-in attempts",
        export: None,
        erasure: Erasure::DeleteLoginState,
    },
    Category {
        name: "exports",
        description: "archives produced by the user's export requests",
        location: Location::ExportBucket,
        purpose: "delivering the user's data to them",
        legal_basis: "legal obligation (Art. 6(1)(c))",
        recipients: "only the user, through a link valid for one hour",
        retention: "seven days",
        source: "produced from the data above",
        export: None,
        erasure: Erasure::PurgeExports,
    },
    Category {
        name: "security_events",
        description: "the user's entries in the tamper-evident audit log: event, time, request id; IP address and user agent encrypted under the user's own key. The export shows events others may have caused (a failed sign-in from a device the user does not have, a lock, a refresh from another device) with their time, kind and a coarse network (/16 for IPv4, /48 for IPv6) only: never the other party's address, user agent or device",
        location: Location::AuditLog,
        purpose: "security monitoring, incident investigation, proving compliance",
        legal_basis: "legal obligation and legitimate interest (Art. 6(1)(c),(f)); kept after erasure under Art. 17(3)(b),(e), pseudonymous",
        recipients: APP,
        retention: "the audit retention period (one year by default)",
        source: "observed when the user and others act on the account",
        export: Some(Section::SecurityEvents),
        erasure: Erasure::ShredKey,
    },
];

/// The category named `name` (the map is small; a linear search is the clearest).
pub fn category(name: &str) -> Option<&'static Category> {
    DATA_MAP.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_unique_name_and_the_art_15_information() {
        let mut names: Vec<_> = DATA_MAP.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DATA_MAP.len());
        for c in DATA_MAP {
            for (field, v) in [
                ("purpose", c.purpose),
                ("legal_basis", c.legal_basis),
                ("recipients", c.recipients),
                ("retention", c.retention),
                ("source", c.source),
            ] {
                assert!(!v.is_empty(), "{}.{field} is empty", c.name);
            }
        }
    }
}
