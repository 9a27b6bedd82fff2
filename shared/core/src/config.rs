//! `Config`: every setting, read once at cold start from `WARDEN_*` environment variables.
//!
//! A bad value stops start-up with an error naming the variable. Durations are written `10s`,
//! `15m`, `24h`, `7d`. The README lists every variable; `template.yaml` sets them for the Lambdas.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Which breach detector registration, password change and login use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreachCheck {
    /// The shipped list of common passwords (no network).
    Offline,
    /// The Have I Been Pwned range API at this base URL.
    Hibp { url: String },
}

/// Which root certificates the AWS SDK's HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsTrust {
    /// Only the Amazon Trust Services roots, which every AWS service endpoint chains to.
    AmazonRoots,
    /// The operating system's store (a TLS-inspecting proxy, an endpoint with its own CA).
    System,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table: Option<String>,
    pub kms_key_id: Option<String>,
    pub photo_bucket: Option<String>,
    pub export_bucket: Option<String>,
    /// The KMS key that signs audit digests (`WARDEN_AUDIT_DIGEST_KEY_ID`): set for the scan
    /// and for the function that publishes its public key.
    pub audit_digest_key_id: Option<String>,
    /// The Object Lock bucket audit digests are written to (`WARDEN_AUDIT_DIGEST_BUCKET`).
    pub audit_digest_bucket: Option<String>,
    /// The EventBridge bus downstream systems hear of erasures, opt-outs, opt-ins and
    /// corrections on (`WARDEN_EVENT_BUS`, a name or ARN); none announced without it.
    pub event_bus: Option<String>,
    pub aws_trust: AwsTrust,
    pub issuer: String,
    pub audience: String,
    pub allowed_origins: Vec<String>,
    /// `WARDEN_SECOND_FACTOR_ROUTES`: routes (`METHOD /path`, as the route table writes them,
    /// comma-separated) that need a sign-in with two factors (`acr` `aal2`): any other caller
    /// gets 403 `step-up-required`. Empty by default.
    pub second_factor_routes: Vec<(String, String)>,
    /// `WARDEN_RP_ID`: the WebAuthn relying party, a domain (never an address); default: the
    /// issuer's host when it is a domain. Passkeys answer 503 without one.
    pub rp_id: Option<String>,
    pub trusted_proxy_hops: usize,
    pub password_min_length: usize,
    pub password_max_age: Duration,
    pub password_required_classes: u8,
    pub password_pepper: bool,
    pub service_name: String,
    /// The messages' words and links, and who sends them.
    pub mail: MailSettings,
    pub breach_check: BreachCheck,
    pub argon2: Argon2Params,
    /// Hashes at once per process (`None`: the cores, resolved when the hasher is built — not at
    /// start-up, where reading the cgroup quota would cost every cold start), and how long a
    /// request waits for its turn.
    pub argon2_concurrency: Option<usize>,
    pub argon2_queue_timeout: Duration,
    pub login_max_failures: u32,
    pub login_window: Duration,
    pub login_lockout: Duration,
    pub login_ip_max_failures: u32,
    /// The largest photo an upload link accepts, in bytes (signed into the link).
    pub photo_max_bytes: u64,
    /// `WARDEN_PRIVACY_RUN_BUDGET`: how long a privacy request runs inside the request that
    /// asked for it (API Gateway answers 503 itself at 29 s); what takes longer answers
    /// `in_progress` and the schedule finishes it.
    pub privacy_run_budget: Duration,
    /// `WARDEN_DOWNSTREAM_RECIPIENTS`: the processors and third parties that must acknowledge
    /// an erasure or an opt-out before its request completes (comma-separated names; none by
    /// default). Their acknowledgements arrive through the operator interface.
    pub downstream_recipients: Vec<String>,
    /// `WARDEN_MFA_REMEMBER`: how long a device whose second step asked to be remembered signs
    /// in with the password alone.
    pub mfa_remember: Duration,
    /// Registrations per client address per hour (each costs an Argon2 hash).
    pub register_ip_max: u32,
    /// `WARDEN_FORGOT_IP_MAX`: password reset requests one client address may make per hour.
    pub forgot_ip_max: u32,
    /// `WARDEN_UNVERIFIED_TTL`: how long an account whose address nobody confirmed lives (then
    /// the address is free again).
    pub unverified_ttl: Duration,
    /// The IPv6 prefix length a client address counts by (see `address`).
    pub ipv6_prefix: u8,
    pub api_rate_per_minute: u32,
    pub api_burst: u32,
    pub refresh_grace: Duration,
    pub refresh_idle: Duration,
    pub refresh_lifetime: Duration,
    pub audit_retention: Duration,
    pub monitor: MonitorSettings,
    /// Whether this process may create the server secret when it is missing
    /// (`WARDEN_SERVER_SECRET`: `create`, the default, for the local runner and the tests;
    /// `read-only` for every deployed function but the security scan).
    pub server_secret: crate::crypto::server_secret::Provisioning,
}

/// Thresholds of the security monitor's detectors and the length of its actions.
#[derive(Debug, Clone, Copy)]
pub struct MonitorSettings {
    /// The sliding window every detector counts over.
    pub window: Duration,
    /// Failed logins on one account within the window (brute force).
    pub brute_force: u32,
    /// Wrong second-factor codes on one account within the window, each after its correct
    /// password: someone has the password.
    pub second_factor_failures: u32,
    /// Distinct accounts failing from one IP, or from one client fingerprint across IPs, within
    /// the window (credential stuffing).
    pub stuffing_accounts: u32,
    /// Distinct IPs failing on one account within the window (distributed attack).
    pub distributed_ips: u32,
    /// Lockouts across all accounts within the window (a burst).
    pub lockout_burst: u32,
    /// Privacy exports (GDPR export, CCPA access) requested within the window (a burst: many
    /// accounts' data leaving at once, as after a mass takeover).
    pub export_burst: u32,
    /// An open privacy request this close to its deadline raises a warning (past it: an alert).
    pub deadline_warning: Duration,
    /// How long a blocked IP stays blocked.
    pub block: Duration,
    /// Audit events read per run at most.
    pub batch: usize,
}

/// Parses `10s`, `15m`, `24h`, `7d` (a positive integer and one unit).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn err(name: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            variable: format!("WARDEN_{name}"),
            message: message.into(),
        }
    }
    fn raw(&self, name: &str) -> Option<String> {
        (self.0)(&format!("WARDEN_{name}")).filter(|v| !v.trim().is_empty())
    }
    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_string())
    }
    /// The value of `choices` the variable names (`default` when unset); any other value is an
    /// error naming the variable and the choices.
    fn choice<T: Clone>(
        &self,
        name: &str,
        default: &str,
        choices: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let given = self.string(name, default);
        choices
            .iter()
            .find(|(word, _)| *word == given)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                let words = choices.iter().map(|(word, _)| *word).collect::<Vec<_>>();
                Self::err(
                    name,
                    format!("expected {}, got {given:?}", words.join(" or ")),
                )
            })
    }
    fn number<T>(&self, name: &str, default: T, min: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<T>() {
                Ok(n) if n >= min => Ok(n),
                _ => Err(Self::err(
                    name,
                    format!("expected an integer >= {min}, got {v:?}"),
                )),
            },
        }
    }
    fn duration(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => parse_duration(&v).filter(|d| !d.is_zero()).ok_or_else(|| {
                Self::err(
                    name,
                    format!("expected a duration like 10s, 15m, 24h, 7d; got {v:?}"),
                )
            }),
        }
    }
}

const DAY: u64 = 86_400;

impl Config {
    /// The sign-in lockout's limits.
    pub fn login_limits(&self) -> crate::lockout::Limits {
        crate::lockout::Limits {
            max_failures: self.login_max_failures,
            window: self.login_window,
            lockout: self.login_lockout,
        }
    }

    /// How long a refresh token lives, idle and in all, and its grace window.
    pub fn session_lifetimes(&self) -> crate::sessions::Lifetimes {
        crate::sessions::Lifetimes {
            grace: self.refresh_grace,
            idle: self.refresh_idle,
            absolute: self.refresh_lifetime,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars(get);
        let origins = v
            .string("ALLOWED_ORIGINS", "")
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        for o in &origins {
            if !(o.starts_with("https://") || o.starts_with("http://")) {
                return Err(Vars::<fn(&str) -> Option<String>>::err(
                    "ALLOWED_ORIGINS",
                    format!("{o:?} is not an origin like https://app.example.com"),
                ));
            }
        }
        let mut second_factor_routes = Vec::new();
        for route in v
            .string("SECOND_FACTOR_ROUTES", "")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let bad = || {
                Vars::<fn(&str) -> Option<String>>::err(
                    "SECOND_FACTOR_ROUTES",
                    format!("{route:?} is not a route like `POST /privacy/gdpr`"),
                )
            };
            let (method, path) = route.split_once(' ').ok_or_else(bad)?;
            let method = method.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str())
                || !path.trim().starts_with('/')
            {
                return Err(bad());
            }
            second_factor_routes.push((method, path.trim().to_string()));
        }
        let mut downstream_recipients: Vec<String> = Vec::new();
        for name in v
            .string("DOWNSTREAM_RECIPIENTS", "")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            if !crate::privacy::requests::is_recipient_name(name) {
                return Err(Vars::<fn(&str) -> Option<String>>::err(
                    "DOWNSTREAM_RECIPIENTS",
                    format!(
                        "{name:?} is not a name of 1 to 64 lowercase letters, digits, '-', '_' or '.'"
                    ),
                ));
            }
            if !downstream_recipients.iter().any(|r| r == name) {
                downstream_recipients.push(name.to_string());
            }
        }
        let issuer = v.string("ISSUER", "http://127.0.0.1:3000");
        let rp_id = match v.raw("RP_ID") {
            Some(id) => {
                let id = id.trim().to_ascii_lowercase();
                if id.parse::<std::net::IpAddr>().is_ok() || id.contains(['/', ':']) {
                    return Err(Vars::<fn(&str) -> Option<String>>::err(
                        "RP_ID",
                        format!("{id:?} is not a domain such as example.com or localhost"),
                    ));
                }
                Some(id)
            }
            None => issuer
                .split_once("://")
                .and_then(|(_, rest)| rest.split(['/', ':']).next())
                .map(str::to_string)
                .filter(|h| !h.is_empty() && h.parse::<std::net::IpAddr>().is_err()),
        };
        let config = Config {
            second_factor_routes,
            rp_id,
            table: v.raw("TABLE"),
            kms_key_id: v.raw("KMS_KEY_ID"),
            photo_bucket: v.raw("PHOTO_BUCKET"),
            export_bucket: v.raw("EXPORT_BUCKET"),
            audit_digest_key_id: v.raw("AUDIT_DIGEST_KEY_ID"),
            audit_digest_bucket: v.raw("AUDIT_DIGEST_BUCKET"),
            event_bus: v.raw("EVENT_BUS"),
            aws_trust: v.choice(
                "AWS_TRUST",
                "amazon",
                &[
                    ("amazon", AwsTrust::AmazonRoots),
                    ("system", AwsTrust::System),
                ],
            )?,
            issuer: v.string("ISSUER", "http://127.0.0.1:3000"),
            audience: v.string("AUDIENCE", "warden"),
            allowed_origins: origins,
            trusted_proxy_hops: v.number("TRUSTED_PROXY_HOPS", 0, 0)?,
            password_min_length: v.number("PASSWORD_MIN_LENGTH", 15, 8)?,
            password_max_age: v.duration("PASSWORD_MAX_AGE", Duration::from_secs(365 * DAY))?,
            password_required_classes: v.number("PASSWORD_REQUIRED_CLASSES", 0u8, 0)?,
            password_pepper: v.choice("PASSWORD_PEPPER", "off", &[("on", true), ("off", false)])?,
            service_name: v.string("SERVICE_NAME", "warden"),
            mail: MailSettings {
                branding: crate::mail::Branding {
                    product: v.string("PRODUCT_NAME", "Warden"),
                    public_url: v
                        .string("PUBLIC_URL", &v.string("ISSUER", "http://127.0.0.1:3000"))
                        .trim_end_matches('/')
                        .to_string(),
                },
                ses_sender: v.raw("SES_SENDER"),
                ses_configuration_set: v.raw("SES_CONFIGURATION_SET"),
                recipient_max: v.number("MAIL_RECIPIENT_MAX", 10, 1)?,
            },
            breach_check: v.choice(
                "BREACH_CHECK",
                "offline",
                &[
                    ("offline", BreachCheck::Offline),
                    (
                        "hibp",
                        BreachCheck::Hibp {
                            url: v.string("HIBP_URL", "https://api.pwnedpasswords.com"),
                        },
                    ),
                ],
            )?,
            argon2: Argon2Params {
                memory_kib: v.number("ARGON2_MEMORY_KIB", 19_456, 8)?,
                iterations: v.number("ARGON2_ITERATIONS", 2, 1)?,
                parallelism: v.number("ARGON2_PARALLELISM", 1, 1)?,
            },
            argon2_concurrency: match v.raw("ARGON2_CONCURRENCY") {
                None => None,
                Some(_) => Some(v.number("ARGON2_CONCURRENCY", 1usize, 1)?),
            },
            argon2_queue_timeout: v.duration("ARGON2_QUEUE_TIMEOUT", Duration::from_secs(5))?,
            login_max_failures: v.number("LOGIN_MAX_FAILURES", 5, 1)?,
            login_window: v.duration("LOGIN_WINDOW", Duration::from_secs(3600))?,
            login_lockout: v.duration("LOGIN_LOCKOUT", Duration::from_secs(DAY))?,
            login_ip_max_failures: v.number("LOGIN_IP_MAX_FAILURES", 50, 1)?,
            register_ip_max: v.number("REGISTER_IP_MAX", 20, 1)?,
            forgot_ip_max: v.number("FORGOT_IP_MAX", 20, 1)?,
            unverified_ttl: v.duration("UNVERIFIED_TTL", Duration::from_secs(7 * DAY))?,
            photo_max_bytes: v.number("PHOTO_MAX_BYTES", 10 * 1024 * 1024, 1)?,
            privacy_run_budget: v.duration("PRIVACY_RUN_BUDGET", Duration::from_secs(20))?,
            downstream_recipients,
            mfa_remember: v.duration("MFA_REMEMBER", Duration::from_secs(30 * DAY))?,
            ipv6_prefix: match v.number("IPV6_PREFIX", crate::address::DEFAULT_IPV6_PREFIX, 1)? {
                p if p <= 128 => p,
                p => {
                    return Err(Vars::<fn(&str) -> Option<String>>::err(
                        "IPV6_PREFIX",
                        format!("expected a prefix length from 1 to 128, got {p}"),
                    ));
                }
            },
            api_rate_per_minute: v.number("API_RATE_PER_MINUTE", 100, 1)?,
            api_burst: v.number("API_BURST", 20, 1)?,
            refresh_grace: v.duration("REFRESH_GRACE", Duration::from_secs(10))?,
            refresh_idle: v.duration("REFRESH_IDLE", Duration::from_secs(7 * DAY))?,
            refresh_lifetime: v.duration("REFRESH_LIFETIME", Duration::from_secs(30 * DAY))?,
            audit_retention: v.duration(
                "AUDIT_RETENTION",
                Duration::from_secs(crate::privacy::data_map::SECURITY_EVENT_RETENTION_DAYS * DAY),
            )?,
            server_secret: v.choice(
                "SERVER_SECRET",
                "create",
                &[
                    ("create", crate::crypto::server_secret::Provisioning::Create),
                    (
                        "read-only",
                        crate::crypto::server_secret::Provisioning::ReadOnly,
                    ),
                ],
            )?,
            monitor: MonitorSettings {
                window: v.duration("MONITOR_WINDOW", Duration::from_secs(600))?,
                brute_force: v.number("MONITOR_BRUTE_FORCE", 10, 2)?,
                second_factor_failures: v.number("MONITOR_SECOND_FACTOR_FAILURES", 3, 1)?,
                stuffing_accounts: v.number("MONITOR_STUFFING_ACCOUNTS", 20, 2)?,
                distributed_ips: v.number("MONITOR_DISTRIBUTED_IPS", 5, 2)?,
                lockout_burst: v.number("MONITOR_LOCKOUT_BURST", 10, 2)?,
                export_burst: v.number("MONITOR_EXPORT_BURST", 20, 2)?,
                deadline_warning: v
                    .duration("MONITOR_DEADLINE_WARNING", Duration::from_secs(3 * DAY))?,
                block: v.duration("MONITOR_BLOCK", Duration::from_secs(3600))?,
                batch: v.number("MONITOR_BATCH", 1000usize, 10)?,
            },
        };
        if config.password_required_classes > 4 {
            return Err(Vars::<fn(&str) -> Option<String>>::err(
                "PASSWORD_REQUIRED_CLASSES",
                "at most 4 (lower, upper, digit, symbol)",
            ));
        }
        if config.argon2.memory_kib < 8 * config.argon2.parallelism {
            return Err(Vars::<fn(&str) -> Option<String>>::err(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 KiB per lane",
            ));
        }
        Ok(config)
    }

    /// The AWS resource names, each required for the AWS backend.
    pub fn aws_resources(&self) -> Result<AwsResources, ConfigError> {
        let need_mail = |v: &Option<String>, name: &str| {
            v.clone().ok_or_else(|| ConfigError {
                variable: format!("WARDEN_{name}"),
                message: "required for the AWS backend (the SES identity mail is sent from)".into(),
            })
        };
        let need = |v: &Option<String>, name: &str| {
            v.clone().ok_or_else(|| ConfigError {
                variable: format!("WARDEN_{name}"),
                message: "required for the AWS backend".into(),
            })
        };
        Ok(AwsResources {
            table: need(&self.table, "TABLE")?,
            kms_key_id: need(&self.kms_key_id, "KMS_KEY_ID")?,
            photo_bucket: need(&self.photo_bucket, "PHOTO_BUCKET")?,
            export_bucket: need(&self.export_bucket, "EXPORT_BUCKET")?,
            ses_sender: need_mail(&self.mail.ses_sender, "SES_SENDER")?,
            ses_configuration_set: self.mail.ses_configuration_set.clone(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct AwsResources {
    pub table: String,
    pub kms_key_id: String,
    pub photo_bucket: String,
    pub export_bucket: String,
    pub ses_sender: String,
    /// The SES configuration set (the one that suppresses bounced and complaining addresses).
    pub ses_configuration_set: Option<String>,
}

/// What the mail channel needs to know.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub branding: crate::mail::Branding,
    /// `WARDEN_SES_SENDER`: the verified SES identity messages come from (AWS backend).
    pub ses_sender: Option<String>,
    /// `WARDEN_SES_CONFIGURATION_SET`.
    pub ses_configuration_set: Option<String>,
    /// `WARDEN_MAIL_RECIPIENT_MAX`: messages one address may be sent per hour; past it,
    /// requests answer as usual and nothing is sent (no inbox can be flooded through Warden).
    pub recipient_max: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_design() {
        let c = from(&[]).unwrap();
        assert_eq!(c.password_min_length, 15);
        assert_eq!(c.login_max_failures, 5);
        assert_eq!(c.login_window, Duration::from_secs(3600));
        assert_eq!(c.login_lockout, Duration::from_secs(86_400));
        assert_eq!(c.refresh_grace, Duration::from_secs(10));
        assert_eq!(c.api_rate_per_minute, 100);
        assert_eq!(c.trusted_proxy_hops, 0);
        assert_eq!(c.aws_trust, AwsTrust::AmazonRoots);
        assert_eq!(c.breach_check, BreachCheck::Offline);
        assert!(!c.password_pepper);
        assert_eq!(
            from(&[
                ("WARDEN_BREACH_CHECK", "hibp"),
                ("WARDEN_HIBP_URL", "http://127.0.0.1:9")
            ])
            .unwrap()
            .breach_check,
            BreachCheck::Hibp {
                url: "http://127.0.0.1:9".into()
            }
        );
        assert_eq!(
            from(&[("WARDEN_AWS_TRUST", "system")]).unwrap().aws_trust,
            AwsTrust::System
        );
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let e = from(&[("WARDEN_LOGIN_WINDOW", "an hour")]).unwrap_err();
        assert_eq!(e.variable, "WARDEN_LOGIN_WINDOW");
        let e = from(&[("WARDEN_LOGIN_MAX_FAILURES", "-1")]).unwrap_err();
        assert_eq!(e.variable, "WARDEN_LOGIN_MAX_FAILURES");
        let e = from(&[("WARDEN_ALLOWED_ORIGINS", "example.com")]).unwrap_err();
        assert_eq!(e.variable, "WARDEN_ALLOWED_ORIGINS");
        let e = from(&[("WARDEN_AWS_TRUST", "any")]).unwrap_err();
        assert_eq!(e.variable, "WARDEN_AWS_TRUST");
        for routes in ["/me", "FETCH /me", "GET me"] {
            let e = from(&[("WARDEN_SECOND_FACTOR_ROUTES", routes)]).unwrap_err();
            assert_eq!(e.variable, "WARDEN_SECOND_FACTOR_ROUTES");
        }
        let ok = from(&[(
            "WARDEN_SECOND_FACTOR_ROUTES",
            " get /me/sessions, POST /privacy/gdpr ",
        )])
        .unwrap();
        assert_eq!(
            ok.second_factor_routes,
            vec![
                ("GET".to_string(), "/me/sessions".to_string()),
                ("POST".to_string(), "/privacy/gdpr".to_string())
            ]
        );
        let e = from(&[("WARDEN_PASSWORD_PEPPER", "yes")]).unwrap_err();
        assert_eq!(
            (e.variable.as_str(), e.message.as_str()),
            ("WARDEN_PASSWORD_PEPPER", r#"expected on or off, got "yes""#)
        );
        let e = from(&[("WARDEN_BREACH_CHECK", "online")]).unwrap_err();
        assert_eq!(e.message, r#"expected offline or hibp, got "online""#);
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("1w"), None);
    }
}
