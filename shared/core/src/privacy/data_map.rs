//! The user's data, defined once.
//!
//! [`DATA_MAP`] names every kind of data Warden holds about a user: where it lives, why it is
//! held, on what legal basis, for how long, who receives it and where it came from. The export
//! writes one section of `data.json` per entry and copies the manifest's Art. 15(1) information
//! from it; the erasure has one step per [`Erasure`] kind (or keeps the data, with the basis for
//! keeping it, which the erasure's receipt repeats), and the export and the erasure match on
//! these exhaustively. A new kind of data therefore cannot be added to one workflow and
//! forgotten by the other: it is added here.
//!
//! [`STORED`] names every kind of table item by its key shape and the category that covers it
//! (or why it holds nothing about a person); a test writes every kind through the real flows and
//! fails on one this list does not name.

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
    /// Lines of the functions' CloudWatch log groups (the local runner: its standard error).
    ServiceLogs,
    /// Objects of the export bucket under `agent-permissions/{request id}`: what authorized
    /// agents uploaded.
    AgentPermission,
    /// A legal hold's item (`LEGALHOLD#{id}`) and, once an erasure has run, its sealed copy in
    /// the export bucket under `legal-holds/{id}/`.
    LegalHold,
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
    /// The user's data key is destroyed: whatever was encrypted under it (the email, display
    /// name, preferences, network prefixes, the personal part of security events) becomes
    /// unreadable.
    ShredKey,
    /// Kept after the erasure, for the stated reason and legal basis, until its retention ends;
    /// what is kept names the user only by the random user id.
    Kept(&'static str),
}

impl Erasure {
    /// Why the data outlives the erasure, when it does.
    pub fn kept_because(self) -> Option<&'static str> {
        match self {
            Erasure::Kept(basis) => Some(basis),
            _ => None,
        }
    }
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
    /// Art. 30(1)(c): whose data it is.
    pub subjects: Subjects,
    /// The category of personal information as Cal. Civ. Code § 1798.140(v) names it (the
    /// notice at collection and the CCPA disclosures list these).
    pub ccpa_category: &'static str,
    /// The `data.json` section the user receives it in (Art. 15, and Art. 20's portable form
    /// for data they provided), or `None` when it is not exported.
    pub export: Option<Section>,
    pub erasure: Erasure,
}

/// Art. 30(1)(c): the categories of data subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subjects {
    /// People with an account (registered, confirmed or not).
    AccountHolders,
    /// Account holders and anyone who tried to sign in or register with an address.
    SignInAttempts,
    /// Everyone who calls the API.
    Callers,
}

impl Subjects {
    pub fn describe(self) -> &'static str {
        match self {
            Subjects::AccountHolders => "account holders",
            Subjects::SignInAttempts => {
                "account holders and anyone who tried to sign in or register with an address"
            }
            Subjects::Callers => "everyone who calls the API",
        }
    }
}

const APP: &str =
    "the operator of this service; its processors AWS (hosting, storage, key management)";

/// The default of `WARDEN_AUDIT_RETENTION`, the one retention of security events and of the
/// alerts drawn from them (a unit test holds the data map's wording and the configuration to it).
pub const SECURITY_EVENT_RETENTION_DAYS: u64 = 400;

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
    SecondFactors,
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
        retention: "until the account is erased; an account whose address nobody confirmed expires after `WARDEN_UNVERIFIED_TTL` (7 days) with its key",
        source: "provided by the user at registration and in profile updates",
        subjects: Subjects::AccountHolders,
        ccpa_category: "identifiers (§ 1798.140(v)(1)(A)); customer records (§ 1798.80(e))",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "customer records (§ 1798.80(e)): settings the consumer chose",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "customer records (§ 1798.80(e)): the consumer's privacy choices",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "internet or other electronic network activity (§ 1798.140(v)(1)(F))",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "internet or other electronic network activity (§ 1798.140(v)(1)(F))",
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
        retention: "one year after the last sign-in from the device, or until the account is erased",
        source: "observed from the user's browser",
        subjects: Subjects::AccountHolders,
        ccpa_category: "identifiers (§ 1798.140(v)(1)(A)); internet or other electronic network activity (§ 1798.140(v)(1)(F))",
        export: Some(Section::Devices),
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "second_factors",
        description: "second factors: an authenticator app's secret (encrypted under the user's key, never exported) and when it was enrolled; keyed hashes of the unused recovery codes (never the codes); a sign-in's pending second step (the user id and a keyed hash of the device)",
        location: Location::UserPartition("MFA#"),
        purpose: "asking for a second factor at sign-in",
        legal_basis: "contract (Art. 6(1)(b)); legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "until the factor is removed or the account is erased; an unconfirmed enrolment 15 minutes; a sign-in's second step 5 minutes (kept outside the partition, it expires by itself)",
        source: "set up by the user",
        subjects: Subjects::AccountHolders,
        ccpa_category: "sensitive personal information: account log-in credentials (§ 1798.140(ae)(1)(B))",
        export: Some(Section::SecondFactors),
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "audio, electronic, visual or similar information (§ 1798.140(v)(1)(H))",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "commercial information (§ 1798.140(v)(1)(D))",
        export: Some(Section::Subscriptions),
        erasure: Erasure::CancelSubscriptions,
    },
    Category {
        name: "privacy_requests",
        description: "the user's GDPR and CCPA requests: type, times, due date, state history, an operator's extension reason or denial, the downstream recipients awaited; while one is open, a claim naming the user id and the action; a pointer in the user's partition; a request asked without signing in, for 24 hours until its link is followed: the email's blind index, the type and the link's hash",
        location: Location::Keyed(
            "PRIVREQ#{request_id}, PRIVOPEN#{user_id}#{action}, USER#{user_id}/PRIVREQ#{request_id}, PRIVINTAKE#{intake id}",
        ),
        purpose: "answering the user's requests and proving that they were answered on time",
        legal_basis: "legal obligation (Art. 6(1)(c); CCPA regulations 7101: records kept 24 months)",
        recipients: APP,
        retention: "24 months; after an erasure only a pseudonymous receipt remains",
        source: "the user's requests",
        subjects: Subjects::AccountHolders,
        ccpa_category: "customer records (§ 1798.80(e)): the consumer's requests and how they were answered",
        export: Some(Section::PrivacyRequests),
        erasure: Erasure::Kept(
            "legal obligation to keep records of requests and how they were answered (CCPA regulations § 7101: 24 months; GDPR Art. 5(2), Art. 17(3)(b)); the record holds no personal field but the random user id; the pointer in the user's partition is deleted",
        ),
    },
    Category {
        name: "login_state",
        description: "the email uniqueness claim (a keyed hash of the email) and failed sign-in counters",
        location: Location::Keyed("EMAIL#{email index}, LOGIN#{email index}"),
        purpose: "keeping emails unique; locking accounts under password guessing",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "counters: one hour to one day; the claim: until the account is erased, or until `WARDEN_UNVERIFIED_TTL` (7 days) while its address is unconfirmed",
        source: "derived from the user's email and sign-in attempts",
        subjects: Subjects::SignInAttempts,
        ccpa_category: "sensitive personal information: account log-in (§ 1798.140(ae)(1)(B))",
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
        subjects: Subjects::AccountHolders,
        ccpa_category: "each category above that the export holds",
        export: None,
        erasure: Erasure::PurgeExports,
    },
    Category {
        name: "security_events",
        description: "the user's entries in the tamper-evident audit log: event, time, request id; IP address and user agent encrypted under the user's own key; append-once markers naming a request id. The export shows events others may have caused (a failed sign-in from a device the user does not have, a lock, a refresh from another device) with their time, kind and a coarse network (/16 for IPv4, /48 for IPv6) only: never the other party's address, user agent or device",
        location: Location::AuditLog,
        purpose: "security monitoring, incident investigation, proving compliance",
        legal_basis: "legal obligation and legitimate interest (Art. 6(1)(c),(f)); kept after erasure under Art. 17(3)(b),(e), pseudonymous",
        recipients: APP,
        retention: "WARDEN_AUDIT_RETENTION: 400 days by default",
        source: "observed when the user and others act on the account",
        subjects: Subjects::SignInAttempts,
        ccpa_category: "identifiers (§ 1798.140(v)(1)(A)): IP address; internet or other electronic network activity (§ 1798.140(v)(1)(F))",
        export: Some(Section::SecurityEvents),
        erasure: Erasure::Kept(
            "legal obligation and legitimate interest in security (Art. 17(3)(b),(e)): the log proves what happened to the account; pseudonymous, as the personal part is unreadable once the data key is destroyed",
        ),
    },
    Category {
        name: "account_security_state",
        description: "on the profile: the token epoch, marks of recently ended sessions, whether the password was found in a breach, the per-user rate-limit state, a password reset link's hash and expiry, a pending email change and its revert (the addresses sealed under the user's key, the links' hashes and expiries), and the erasure's fence and upload deadline",
        location: Location::UserPartition("PROFILE"),
        purpose: "ending sessions and tokens on security events; forcing a password change after a breach; rate limiting",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "until the account is erased; session marks 16 minutes",
        source: "derived from the account's security events (which are exported)",
        subjects: Subjects::AccountHolders,
        ccpa_category: "internet or other electronic network activity (§ 1798.140(v)(1)(F))",
        export: None,
        erasure: Erasure::DeletePartition,
    },
    Category {
        name: "data_key",
        description: "the user's data key, wrapped under the KMS key: it encrypts the email, display name, preferences, network prefixes and the personal part of the user's security events",
        location: Location::UserPartition("DATAKEY"),
        purpose: "encrypting the user's personal data so that destroying one key erases it everywhere",
        legal_basis: "security of processing (Art. 32)",
        recipients: "nobody: it never leaves the service",
        retention: "until the account is erased",
        source: "generated at registration",
        subjects: Subjects::AccountHolders,
        ccpa_category: "none: a key, not information about a person",
        export: None,
        erasure: Erasure::ShredKey,
    },
    Category {
        name: "security_alerts",
        description: "the security monitor's alerts: the finding, its time, and the user ids and address tags it concerns",
        location: Location::Keyed("ALERT#{chain}#{dedup key}"),
        purpose: "detecting and answering attacks on accounts",
        legal_basis: "legitimate interest in account security (Art. 6(1)(f))",
        recipients: APP,
        retention: "as security events: WARDEN_AUDIT_RETENTION, 400 days by default",
        source: "drawn from the security events",
        subjects: Subjects::SignInAttempts,
        ccpa_category: "internet or other electronic network activity (§ 1798.140(v)(1)(F))",
        export: None,
        erasure: Erasure::Kept(
            "legitimate interest in security and legal obligation (Art. 17(3)(b),(e)): an alert is evidence of an attack; it names the user only by the random user id",
        ),
    },
    Category {
        name: "billing_events",
        description: "events told to the billing provider (a subscription was cancelled): the subscription id, the event, the reason and its time",
        location: Location::Keyed("BILLING#OUTBOX/{at}#{subscription id}"),
        purpose: "telling the billing provider of subscription changes, cancellations at erasure included",
        legal_basis: "contract and legal obligation (Art. 6(1)(b),(c))",
        recipients: "the operator's billing provider",
        retention: "30 days",
        source: "the user's purchases and cancellations",
        subjects: Subjects::AccountHolders,
        ccpa_category: "commercial information (§ 1798.140(v)(1)(D))",
        export: None,
        erasure: Erasure::Kept(
            "the cancellation must still reach the billing provider after the erasure; the event names only the subscription and expires after 30 days",
        ),
    },
    Category {
        name: "queued_mail",
        description: "messages to the user not yet delivered (recipient, subject, text, a verification or reset link), sealed under the user's key — or, when the request must not reveal whether the address has an account (a reset link, a notice to an address someone tried to register or reset), under a key of its own wrapped in the item, so the item outlives an erasure by at most its 7 days; the recipient's hourly message budget, keyed by the email's blind index",
        location: Location::Keyed("MAILOUT#{id}, MAILTO#{email index}"),
        purpose: "telling the user of security events and delivering the links they asked for",
        legal_basis: "contract and legitimate interest in account security (Art. 6(1)(b),(f))",
        recipients: "the operator's mail provider (Amazon SES) on delivery",
        retention: "until delivered, at most 7 days; the budget one hour",
        source: "produced by the user's requests and by security events on the account",
        subjects: Subjects::AccountHolders,
        ccpa_category: "identifiers (§ 1798.140(v)(1)(A)): the email address",
        export: None,
        erasure: Erasure::ShredKey,
    },
    Category {
        name: "agent_permissions",
        description: "the permission a person signed for an authorized agent who asked on their behalf (a PDF or image the agent uploaded), with the agent's name and address in the request's record",
        location: Location::AgentPermission,
        purpose: "verifying that an authorized agent may act for the person (CCPA regulations § 7063) before any data moves",
        legal_basis: "legal obligation (Art. 6(1)(c))",
        recipients: APP,
        retention: "as the request's record: 24 months (the export bucket's lifecycle deletes them after 760 days)",
        source: "provided by the agent",
        subjects: Subjects::AccountHolders,
        ccpa_category: "identifiers and customer records (§ 1798.140(v)(1)(A); § 1798.80(e)): names and signatures",
        export: None,
        erasure: Erasure::Kept(
            "records of requests (CCPA regulations § 7101): the permission is how the request was verified; kept with the request's record",
        ),
    },
    Category {
        name: "downstream_events",
        description: "events announcing an erasure, an opt-out, an opt back in or a corrected address to downstream systems, until the event bus takes them: the user id, what happened and when, the request; never the data itself",
        location: Location::Keyed("EVENTOUT#{id}"),
        purpose: "telling processors and third parties of erasures, opt-outs and corrections (Art. 19; § 1798.105(c)(1), regs § 7022(b), § 7026(f))",
        legal_basis: "legal obligation (Art. 6(1)(c))",
        recipients: "the processors and third parties subscribed to the event bus (WARDEN_EVENT_BUS)",
        retention: "until published, at most 30 days",
        source: "the user's requests and signals, and their completion",
        subjects: Subjects::AccountHolders,
        ccpa_category: "identifiers (§ 1798.140(v)(1)(A)): the random user id",
        export: None,
        erasure: Erasure::Kept(
            "the erasure's own announcement must reach the recipients after it; the event names only the random user id and expires within 30 days",
        ),
    },
    Category {
        name: "legal_hold",
        description: "while an operator's legal hold on the account lasts: the hold (reason, categories, who placed it and when) and, once the account is erased, a copy of the held categories as the export writes them, sealed under a key of the hold's own",
        location: Location::LegalHold,
        purpose: "establishing, exercising or defending legal claims",
        legal_basis: "legal obligation or legitimate interest in legal claims (Art. 6(1)(c),(f); Art. 17(3)(e); CCPA § 1798.145(a)(1)(E))",
        recipients: "the operator's legal counsel; authorities or courts where the claim requires",
        retention: "until the hold is lifted: the copy and its key are deleted then",
        source: "copied from the account's data when its erasure begins",
        subjects: Subjects::AccountHolders,
        ccpa_category: "the categories held (identifiers, customer records, network activity, as the hold names them)",
        export: None,
        erasure: Erasure::Kept(
            "legal claims (Art. 17(3)(e); CCPA § 1798.145(a)(1)(E)): only while a hold lasts, sealed under the hold's key, listed in the receipt with the hold's reason",
        ),
    },
    Category {
        name: "service_logs",
        description: "the functions' log lines: request id, route, outcome, and the user id where a request acted for one; never an email, password, token, key or address",
        location: Location::ServiceLogs,
        purpose: "operating and debugging the service; alarms on security alerts",
        legal_basis: "legitimate interest in operating a secure service (Art. 6(1)(f))",
        recipients: APP,
        retention: "the log groups' retention (LogRetentionDays: 30 days by default)",
        source: "observed while serving requests",
        subjects: Subjects::Callers,
        ccpa_category: "internet or other electronic network activity (§ 1798.140(v)(1)(F))",
        export: None,
        erasure: Erasure::Kept(
            "legitimate interest in security (Art. 17(3)(e)): log lines cannot be edited; they name the user only by the random user id and expire with the log group",
        ),
    },
];

/// What a kind of table item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Holds {
    /// Personal data of the named [`DATA_MAP`] category.
    Category(&'static str),
    /// Nothing that identifies a person, and why.
    Nothing(&'static str),
}

/// One kind of table item by its key shape: the partition key's first segment (up to and
/// including its first `#`, or all of it) and the sort key's the same way; `*` matches any.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stored {
    pub pk: &'static str,
    pub sk: &'static str,
    pub holds: Holds,
}

const fn kind(pk: &'static str, sk: &'static str, holds: Holds) -> Stored {
    Stored { pk, sk, holds }
}

const CHAIN_HEAD: Holds =
    Holds::Nothing("the audit chain's head or a signed checkpoint: numbers and hashes");
const ADDRESS_STATE: Holds = Holds::Nothing(
    "a counter, block or budget under a keyed hash of an address, linked to no account, expiring within a day",
);
const SERVICE_KEYS: Holds =
    Holds::Nothing("the service's own keys (signing keys, server secret), wrapped");
const MONITOR_STATE: Holds = Holds::Nothing("the monitor's checkpoint and lease");
const AUDIT_LAYOUT: Holds = Holds::Nothing(
    "the audit log's shard layout, or which shard an account's events go to: numbers and times",
);
const AUDIT_DIGESTS: Holds =
    Holds::Nothing("a signed audit digest: shard heads, hashes, sequence numbers and times");

/// Every kind of item Warden writes to its table (the audit log's shards are `AUDIT#{shard}`;
/// the signing-key and monitor partitions also appear with a `#` suffix: the tests give each
/// their own).
pub const STORED: &[Stored] = &[
    kind("USER#", "PROFILE", Holds::Category("profile")),
    kind("USER#", "PREFERENCES", Holds::Category("preferences")),
    kind("USER#", "DATAKEY", Holds::Category("data_key")),
    kind("USER#", "SESSION#", Holds::Category("sessions")),
    kind("USER#", "DEVICE#", Holds::Category("devices")),
    kind("USER#", "ACTIVITY#", Holds::Category("activity")),
    kind("USER#", "SUBSCRIPTION#", Holds::Category("subscriptions")),
    kind("USER#", "PRIVREQ#", Holds::Category("privacy_requests")),
    kind("USER#", "MFA#", Holds::Category("second_factors")),
    kind(
        "MFACHALLENGE#",
        "CHALLENGE",
        Holds::Category("second_factors"),
    ),
    kind(
        "PASSKEYCEREMONY#",
        "CEREMONY",
        Holds::Category("second_factors"),
    ),
    kind("EMAIL#", "EMAIL", Holds::Category("login_state")),
    kind("LOGIN#", "FAILURES", Holds::Category("login_state")),
    kind("LOGIN#", "FAILURES#", Holds::Category("login_state")),
    kind("PRIVREQ#", "REQUEST", Holds::Category("privacy_requests")),
    kind("PRIVOPEN#", "OPEN", Holds::Category("privacy_requests")),
    kind("PRIVINTAKE#", "INTAKE", Holds::Category("privacy_requests")),
    kind("LEGALHOLD#", "HOLD", Holds::Category("legal_hold")),
    kind("EVENTOUT#", "EVENT", Holds::Category("downstream_events")),
    kind("AUDIT", "SEQ#", Holds::Category("security_events")),
    kind("AUDIT#", "SEQ#", Holds::Category("security_events")),
    kind("AUDIT", "ONCE#", Holds::Category("security_events")),
    kind("AUDIT#", "ONCE#", Holds::Category("security_events")),
    kind("ALERT#", "ALERT", Holds::Category("security_alerts")),
    kind("BILLING#", "*", Holds::Category("billing_events")),
    kind("MAILOUT#", "MAIL", Holds::Category("queued_mail")),
    kind("MAILTO#", "BUDGET#", Holds::Category("queued_mail")),
    kind("AUDIT", "HEAD", CHAIN_HEAD),
    kind("AUDIT#", "HEAD", CHAIN_HEAD),
    kind("AUDIT", "CHECKPOINT#", CHAIN_HEAD),
    kind("AUDIT#", "CHECKPOINT#", CHAIN_HEAD),
    kind("LOGINIP#", "FAILURES", ADDRESS_STATE),
    kind("LOGINIP#", "BLOCK", ADDRESS_STATE),
    kind("RATEIP#", "BUCKET", ADDRESS_STATE),
    kind("REGIP#", "BUDGET", ADDRESS_STATE),
    kind("FORGOTIP#", "BUDGET", ADDRESS_STATE),
    kind("SIGNKEYS", "*", SERVICE_KEYS),
    kind("SIGNKEYS#", "*", SERVICE_KEYS),
    kind("SECRET", "*", SERVICE_KEYS),
    kind("TAGKEY", "*", SERVICE_KEYS),
    kind("MONITOR", "*", MONITOR_STATE),
    kind("MONITOR#", "*", MONITOR_STATE),
    kind("AUDIT", "LAYOUT", AUDIT_LAYOUT),
    kind("AUDIT#", "LAYOUT", AUDIT_LAYOUT),
    kind("USERSHARD#", "AUDIT", AUDIT_LAYOUT),
    // `AUDIT#DIGESTS` (numbered sort keys): after every other `AUDIT#` kind, which it would
    // otherwise match.
    kind("AUDIT#", "*", AUDIT_DIGESTS),
];

/// A key's shape: its first segment, up to and including the first `#` (all of it if none).
fn shape(key: &str) -> &str {
    match key.find('#') {
        Some(i) => &key[..=i],
        None => key,
    }
}

/// The [`STORED`] kind an item key belongs to, if the list names it.
pub fn stored_kind(pk: &str, sk: &str) -> Option<&'static Stored> {
    let (pk, sk) = (shape(pk), shape(sk));
    STORED
        .iter()
        .find(|k| k.pk == pk && (k.sk == "*" || k.sk == sk))
}

/// The category named `name` (the map is small; a linear search is the clearest).
pub fn category(name: &str) -> Option<&'static Category> {
    DATA_MAP.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_kind_names_a_category_of_the_map() {
        for k in STORED {
            if let Holds::Category(name) = k.holds {
                assert!(category(name).is_some(), "{}/{}: {name}", k.pk, k.sk);
            }
        }
        assert_eq!(
            stored_kind("USER#ab", "SESSION#cd").map(|k| k.holds),
            Some(Holds::Category("sessions"))
        );
        assert_eq!(stored_kind("USERX", "PROFILE").map(|k| k.holds), None);
    }

    #[test]
    fn security_events_and_alerts_state_the_one_retention_the_code_applies() {
        let days = format!("{SECURITY_EVENT_RETENTION_DAYS} days");
        for name in ["security_events", "security_alerts"] {
            let c = category(name).unwrap();
            assert!(c.retention.contains(&days), "{name}: {}", c.retention);
        }
        let defaults = crate::config::Config::from_vars(|_| None).unwrap();
        assert_eq!(
            defaults.audit_retention.as_secs(),
            SECURITY_EVENT_RETENTION_DAYS * 86_400
        );
    }

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
