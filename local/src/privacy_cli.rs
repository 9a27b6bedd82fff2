//! `warden-local privacy …`: the operator's command line, the second door onto the privacy
//! operations of [`warden_core::privacy::operations`] (the first is the operator API).
//!
//! On the embedded store only one process may hold the data directory, so a command first
//! looks for a running `warden-local` there (`<data-dir>/operator-address`, written when it
//! starts serving) and talks to it through the operator API with `<data-dir>/operator-token`;
//! when none answers it opens the store itself. With `--backend aws` it works on DynamoDB with
//! the operator's own AWS credentials, as `audit verify` does. Either way the output is the
//! same: both doors return the operations' JSON, and this module prints it.
//!
//! Exit status: 0 on success; 1 with a one-line reason (an unknown id, a second extension, an
//! extension after the due date, …); 2 for a command line it cannot read.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use warden_core::audit::RequestMeta;
use warden_core::privacy::legal_hold;
use warden_core::privacy::operations::{self, Desk, Filter, Operator};
use warden_core::services::AppState;

pub const USAGE: &str = "\
usage: warden-local privacy list [--state S] [--type T] [--regime R] [--overdue] [--json]
       warden-local privacy show ID [--json]
       warden-local privacy extend ID --reason TEXT
       warden-local privacy deny ID --basis BASIS --reason TEXT
       warden-local privacy verify ID --reason TEXT
       warden-local privacy ack ID RECIPIENT
       warden-local privacy hold USER_ID --reason TEXT [--category C]...
       warden-local privacy held USER_ID [--json]
       warden-local privacy copy USER_ID --out FILE
       warden-local privacy release USER_ID
       warden-local privacy metrics [--year N] [--json]
       warden-local privacy ropa [--format md|json] [--notice]
  each with --data-dir DIR (default ./.warden) or --backend aws

  states:  received, verifying, awaiting_operator, in_progress, awaiting_acknowledgements,
           completed, denied, cancelled
  bases:   identity_not_verified, manifestly_unfounded, excessive, rights_of_others,
           legal_obligation, legal_claims, exempt_data";

/// The file a serving runner writes its address to, in its data directory.
pub const ADDRESS_FILE: &str = "operator-address";

/// One operator command, as read from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    List {
        state: Option<String>,
        type_name: Option<String>,
        regime: Option<String>,
        overdue: bool,
    },
    Show {
        id: String,
    },
    Extend {
        id: String,
        reason: String,
    },
    Deny {
        id: String,
        basis: String,
        reason: String,
    },
    /// A request waiting for an operator is verified (`reason` says how) and runs.
    Verify {
        id: String,
        reason: String,
    },
    Ack {
        id: String,
        recipient: String,
    },
    /// A legal hold on an account: the categories named (every one that can be held when none
    /// is).
    Hold {
        user_id: String,
        reason: String,
        categories: Vec<String>,
    },
    Held {
        user_id: String,
    },
    Release {
        user_id: String,
    },
    /// The copy an erasure sealed under a hold, opened and written to a new owner-only file.
    Copy {
        user_id: String,
        out: PathBuf,
    },
    Metrics {
        year: Option<i32>,
    },
    /// The record of processing (or the notice at collection) from the data map.
    Ropa {
        format: Option<String>,
        notice: bool,
    },
}

/// A command with its output form; the rest of the arguments (`--data-dir`, `--backend`) are
/// the runner's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    pub json: bool,
    pub rest: Vec<String>,
}

/// Reads `privacy SUB …` (the words after `privacy`).
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    let (sub, args) = args.split_first().ok_or_else(|| USAGE.to_string())?;
    let mut positional = Vec::new();
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = Vec::new();
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if a.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        match name.as_str() {
            "--json" => json = true,
            "--overdue" | "--notice" => options.push((name, None)),
            "--data-dir" | "--backend" => {
                rest.push(name.clone());
                rest.push(
                    inline
                        .or_else(|| it.next().cloned())
                        .ok_or(format!("{name} needs a value"))?,
                );
            }
            "--state" | "--type" | "--regime" | "--reason" | "--basis" | "--year" | "--format"
            | "--category" | "--out" => {
                let v = inline
                    .or_else(|| it.next().cloned())
                    .ok_or(format!("{name} needs a value"))?;
                options.push((name, Some(v)));
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            n if n.starts_with("--") => return Err(format!("unknown flag {n}\n\n{USAGE}")),
            _ => positional.push(a.clone()),
        }
    }
    let take = |name: &str| -> Option<String> {
        options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    };
    let needed = |name: &str| take(name).ok_or(format!("privacy {sub}: {name} is required"));
    let one = |what: &str| match positional.as_slice() {
        [id] => Ok(id.clone()),
        _ => Err(format!("privacy {sub}: one {what} id expected\n\n{USAGE}")),
    };
    let one_id = || one("request");
    let one_user = || one("user");
    let allowed: &[&str] = match sub.as_str() {
        "list" => &["--state", "--type", "--regime", "--overdue"],
        "show" => &[],
        "extend" | "verify" => &["--reason"],
        "deny" => &["--basis", "--reason"],
        "ack" | "held" | "release" => &[],
        "hold" => &["--reason", "--category"],
        "copy" => &["--out"],
        "metrics" => &["--year"],
        "ropa" => &["--format", "--notice"],
        _ => return Err(format!("unknown command privacy {sub}\n\n{USAGE}")),
    };
    if let Some((n, _)) = options.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
        return Err(format!("privacy {sub} takes no {n}"));
    }
    let command = match sub.as_str() {
        "list" => {
            if !positional.is_empty() {
                return Err(format!("privacy list takes no argument\n\n{USAGE}"));
            }
            Command::List {
                state: take("--state"),
                type_name: take("--type"),
                regime: take("--regime"),
                overdue: options.iter().any(|(n, _)| n == "--overdue"),
            }
        }
        "show" => Command::Show { id: one_id()? },
        "hold" => Command::Hold {
            user_id: one_user()?,
            reason: needed("--reason")?,
            categories: options
                .iter()
                .filter(|(n, _)| n == "--category")
                .filter_map(|(_, v)| v.clone())
                .collect(),
        },
        "held" => Command::Held {
            user_id: one_user()?,
        },
        "release" => Command::Release {
            user_id: one_user()?,
        },
        "copy" => Command::Copy {
            user_id: one_user()?,
            out: PathBuf::from(needed("--out")?),
        },
        "extend" => Command::Extend {
            id: one_id()?,
            reason: needed("--reason")?,
        },
        "verify" => Command::Verify {
            id: one_id()?,
            reason: needed("--reason")?,
        },
        "deny" => Command::Deny {
            id: one_id()?,
            basis: needed("--basis")?,
            reason: needed("--reason")?,
        },
        "ropa" => {
            if !positional.is_empty() {
                return Err(format!("privacy ropa takes no argument\n\n{USAGE}"));
            }
            Command::Ropa {
                format: take("--format"),
                notice: options.iter().any(|(n, _)| n == "--notice"),
            }
        }
        "ack" => match positional.as_slice() {
            [id, recipient] => Command::Ack {
                id: id.clone(),
                recipient: recipient.clone(),
            },
            _ => {
                return Err(format!(
                    "privacy ack: a request id and a recipient expected\n\n{USAGE}"
                ));
            }
        },
        _ => {
            if !positional.is_empty() {
                return Err(format!("privacy metrics takes no argument\n\n{USAGE}"));
            }
            let year = take("--year")
                .map(|y| {
                    y.parse()
                        .map_err(|_| format!("--year: {y:?} is not a year"))
                })
                .transpose()?;
            Command::Metrics { year }
        }
    };
    Ok(Invocation {
        command,
        json,
        rest,
    })
}

impl Command {
    /// The operator API request that runs this command: method, path and query, body.
    pub fn http(&self) -> (&'static str, String, Option<Value>) {
        let enc = percent;
        match self {
            Command::List {
                state,
                type_name,
                regime,
                overdue,
            } => {
                let overdue = overdue.then(|| "true".to_string());
                let query = query_string(&[
                    ("state", state),
                    ("type", type_name),
                    ("regime", regime),
                    ("overdue", &overdue),
                ]);
                ("GET", format!("/operator/requests{query}"), None)
            }
            Command::Show { id } => ("GET", format!("/operator/requests/{}", enc(id)), None),
            Command::Extend { id, reason } => (
                "POST",
                format!("/operator/requests/{}/extend", enc(id)),
                Some(json!({ "reason": reason })),
            ),
            Command::Verify { id, reason } => (
                "POST",
                format!("/operator/requests/{}/verify", enc(id)),
                Some(json!({ "reason": reason })),
            ),
            Command::Deny { id, basis, reason } => (
                "POST",
                format!("/operator/requests/{}/deny", enc(id)),
                Some(json!({ "basis": basis, "reason": reason })),
            ),
            Command::Ack { id, recipient } => (
                "POST",
                format!("/operator/requests/{}/acks", enc(id)),
                Some(json!({ "recipient": recipient })),
            ),
            Command::Hold {
                user_id,
                reason,
                categories,
            } => {
                let mut body = json!({ "reason": reason });
                if !categories.is_empty() {
                    body["categories"] = json!(categories);
                }
                let path = format!("/operator/users/{}/hold", enc(user_id));
                ("POST", path, Some(body))
            }
            Command::Held { user_id } => (
                "GET",
                format!("/operator/users/{}/hold", enc(user_id)),
                None,
            ),
            Command::Release { user_id } => (
                "DELETE",
                format!("/operator/users/{}/hold", enc(user_id)),
                None,
            ),
            Command::Copy { user_id, .. } => (
                "GET",
                format!("/operator/users/{}/hold/copy", enc(user_id)),
                None,
            ),
            Command::Metrics { year } => {
                let year = year.map(|y| y.to_string());
                let query = query_string(&[("year", &year)]);
                ("GET", format!("/operator/metrics{query}"), None)
            }
            Command::Ropa { format, notice } => {
                let notice = notice.then(|| "true".to_string());
                let query = query_string(&[("format", format), ("notice", &notice)]);
                ("GET", format!("/operator/ropa{query}"), None)
            }
        }
    }

    /// What "not found" means for this command.
    pub fn not_found(&self) -> &'static str {
        match self {
            Command::Hold { .. } => "no such account",
            Command::Held { .. } | Command::Release { .. } => "no legal hold on this account",
            Command::Copy { .. } => "no sealed copy: no hold on this account, or no erasure yet",
            _ => "no such request",
        }
    }

    /// Runs the command on the services themselves (no runner holds the store), as `operator`.
    pub async fn run(&self, s: &AppState, operator: &Operator) -> warden_core::Result<Value> {
        let table = s.backends.table.as_ref();
        let now = s.backends.clock.now();
        let desk = Desk {
            s: s.privacy(),
            now,
        };
        let meta = RequestMeta {
            request_id: format!(
                "privacy-cli-{}",
                warden_core::crypto::hex(&warden_core::crypto::random_bytes::<8>()?)
            ),
            ..Default::default()
        };
        let value = match self {
            Command::List {
                state,
                type_name,
                regime,
                overdue,
            } => {
                let filter = Filter::parse(
                    state.as_deref(),
                    type_name.as_deref(),
                    regime.as_deref(),
                    *overdue,
                )?;
                json!({ "requests": operations::list(table, &filter, now).await? })
            }
            Command::Show { id } => to_value(operations::show(table, id, now).await?)?,
            Command::Extend { id, reason } => {
                to_value(desk.extend(operator, id, reason, &meta).await?)?
            }
            Command::Deny { id, basis, reason } => {
                to_value(desk.deny(operator, id, basis, reason, &meta).await?)?
            }
            Command::Verify { id, reason } => {
                to_value(desk.verify(operator, id, reason, &meta).await?)?
            }
            Command::Ack { id, recipient } => {
                to_value(desk.acknowledge(operator, id, recipient, &meta).await?)?
            }
            Command::Hold {
                user_id,
                reason,
                categories,
            } => {
                let named = (!categories.is_empty()).then_some(categories.as_slice());
                to_value(desk.hold(operator, user_id, reason, named, &meta).await?)?
            }
            Command::Held { user_id } => to_value(
                legal_hold::get(table, user_id)
                    .await?
                    .ok_or(warden_core::Error::NotFound)?,
            )?,
            Command::Release { user_id } => {
                to_value(desk.release(operator, user_id, &meta).await?)?
            }
            Command::Copy { out, user_id } => {
                let zip = legal_hold::open_copy(&s.privacy(), user_id).await?;
                write_copy(out, &zip).map_err(warden_core::Error::bad_request)?
            }
            Command::Metrics { year } => {
                to_value(operations::metrics(table, year.unwrap_or(now.year())).await?)?
            }
            Command::Ropa { format, notice } => {
                warden_operator::RopaForm::parse(format.as_deref(), *notice)?.render(s)?
            }
        };
        Ok(value)
    }

    /// What the command prints for `value` (its JSON when asked for).
    pub fn render(&self, value: &Value, json: bool) -> String {
        if let Value::String(document) = value {
            return document.trim_end().to_string(); // a Markdown document
        }
        if json {
            return serde_json::to_string_pretty(value).unwrap_or_default();
        }
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
        match self {
            Command::List { .. } => {
                let rows = value["requests"].as_array().cloned().unwrap_or_default();
                let mut out = format!(
                    "{:<32}  {:<25}  {:<16}  {:<10}  {:<10}\n",
                    "REQUEST", "STATE", "TYPE", "RECEIVED", "DUE"
                );
                for r in &rows {
                    out.push_str(&format!(
                        "{:<32}  {:<25}  {:<16}  {:<10}  {:<10}{}\n",
                        s(r, "request_id"),
                        s(r, "status"),
                        format!("{} {}", s(r, "regime"), s(r, "type")),
                        s(r, "received_at").get(..10).unwrap_or(""),
                        s(r, "due_at").get(..10).unwrap_or(""),
                        if r["overdue"] == true {
                            "  OVERDUE"
                        } else {
                            ""
                        }
                    ));
                }
                out.push_str(&format!("{} requests", rows.len()));
                out
            }
            Command::Show { .. } => {
                let mut out = format!(
                    "request {}\n  user      {}\n  type      {} {}\n  state     {}{}\n  received  {}\n  due       {}\n",
                    s(value, "request_id"),
                    s(value, "user_id"),
                    s(value, "regime"),
                    s(value, "type"),
                    s(value, "status"),
                    if value["overdue"] == true {
                        " (OVERDUE)"
                    } else {
                        ""
                    },
                    s(value, "received_at"),
                    s(value, "due_at"),
                );
                if let Some(r) = value["extension_reason"].as_str() {
                    out.push_str(&format!("  extended  {r}\n"));
                }
                if let Some(pending) = value["pending_acknowledgements"].as_array() {
                    let names: Vec<&str> = pending.iter().filter_map(Value::as_str).collect();
                    out.push_str(&format!("  awaiting  {}\n", names.join(", ")));
                }
                if value["denial"].is_object() {
                    out.push_str(&format!(
                        "  denied    {} ({}): {}\n",
                        s(&value["denial"], "basis"),
                        s(&value["denial"], "provisions"),
                        s(&value["denial"], "reason")
                    ));
                }
                out.push_str("  history\n");
                for h in value["history"].as_array().into_iter().flatten() {
                    out.push_str(&format!(
                        "    {}  {:<25}  {}\n",
                        s(h, "at"),
                        s(h, "state"),
                        s(h, "note")
                    ));
                }
                out.trim_end().to_string()
            }
            Command::Extend { .. } => format!(
                "request {} extended: now due {}",
                s(value, "request_id"),
                s(value, "due_at")
            ),
            Command::Deny { .. } => format!(
                "request {} denied ({})",
                s(value, "request_id"),
                s(&value["denial"], "basis")
            ),
            Command::Verify { .. } => format!(
                "request {} verified: it is {}",
                s(value, "request_id"),
                s(value, "status")
            ),
            Command::Ack { .. } => format!(
                "request {} is {}",
                s(value, "request_id"),
                s(value, "status")
            ),
            Command::Hold { .. } | Command::Held { .. } => {
                let categories: Vec<&str> = value["categories"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut out = format!(
                    "legal hold on {} since {} by {}\n  reason      {}\n  categories  {}",
                    s(value, "user_id"),
                    s(value, "placed_at"),
                    s(value, "placed_by"),
                    s(value, "reason"),
                    categories.join(", ")
                );
                if value["sealed"].is_object() {
                    out.push_str(&format!(
                        "\n  sealed      {} by erasure {} ({} bytes)",
                        s(&value["sealed"], "sealed_at"),
                        s(&value["sealed"], "by_request"),
                        value["sealed"]["bytes"]
                    ));
                }
                out
            }
            Command::Copy { user_id, .. } => format!(
                "the sealed copy of {user_id} is in {} ({} bytes)",
                s(value, "written"),
                value["bytes"]
            ),
            Command::Release { .. } => format!(
                "legal hold on {} lifted{}",
                s(value, "user_id"),
                if value["sealed"].is_object() {
                    ": its sealed copy is deleted"
                } else {
                    ""
                }
            ),
            Command::Ropa { .. } => serde_json::to_string_pretty(value).unwrap_or_default(),
            Command::Metrics { .. } => {
                let mut out = format!(
                    "requests received in {}\n{:<18} {:>8} {:>8} {:>7} {:>9} {:>5} {:>11} {:>9}\n",
                    value["year"],
                    "TYPE",
                    "RECEIVED",
                    "COMPLIED",
                    "DENIED",
                    "CANCELLED",
                    "OPEN",
                    "MEDIAN DAYS",
                    "MEAN DAYS"
                );
                let days = |v: &Value| match v.as_f64() {
                    Some(d) => format!("{d:.1}"),
                    None => "-".into(),
                };
                let rows = value["by_type"].as_array().cloned().unwrap_or_default();
                for r in rows.iter().chain(std::iter::once(&value["total"])) {
                    let name = match r["regime"].as_str() {
                        Some(g) => format!("{g} {}", s(r, "type")),
                        None => s(r, "type"),
                    };
                    out.push_str(&format!(
                        "{:<18} {:>8} {:>8} {:>7} {:>9} {:>5} {:>11} {:>9}\n",
                        name,
                        r["received"],
                        r["complied"],
                        r["denied"],
                        r["cancelled"],
                        r["open"],
                        days(&r["median_days"]),
                        days(&r["mean_days"])
                    ));
                }
                out.trim_end().to_string()
            }
        }
    }
}

/// `s` percent-encoded for a path segment or a query value.
fn percent(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `?name=value&…` for the parameters that have a value (empty when none has).
fn query_string(params: &[(&str, &Option<String>)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| format!("{name}={}", percent(v))))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

fn to_value(v: impl serde::Serialize) -> warden_core::Result<Value> {
    serde_json::to_value(v).map_err(|e| warden_core::Error::internal("JSON encoding", e))
}

/// Who the command line acts as: the local operator on the embedded store; on AWS, the
/// credentials' owner as the environment names them (`WARDEN_OPERATOR`, else the login name).
pub fn operator(backend: crate::Backend) -> Operator {
    match backend {
        crate::Backend::Embedded => Operator::local(),
        crate::Backend::Aws => {
            let who = std::env::var("WARDEN_OPERATOR")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "unknown".into());
            Operator::named(&format!("command line with AWS credentials: {who}"))
                .unwrap_or_else(|_| Operator::local())
        }
    }
}

/// The runner serving `data_dir`, if one wrote its address there.
pub fn runner_address(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(ADDRESS_FILE)).ok()?;
    let addr: std::net::SocketAddr = text.trim().parse().ok()?;
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    Some(std::net::SocketAddr::new(ip, addr.port()).to_string())
}

/// Runs `command` through the operator API of the runner at `address`: `Ok(None)` when nothing
/// answers there (a runner that stopped without removing its file).
pub async fn over_http(
    command: &Command,
    address: &str,
    token: &str,
) -> Result<Option<Value>, String> {
    use http_body_util::{BodyExt, Full};
    let (method, path, body) = command.http();
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = axum::http::Request::builder()
        .method(method)
        .uri(format!("http://{address}{path}"))
        .header("host", address)
        .header("authorization", format!("Bearer {token}"));
    if !bytes.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Full::new(axum::body::Bytes::from(bytes)))
        .map_err(|e| e.to_string())?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Ok(None),
        Err(e) => return Err(format!("the runner at {address} did not answer: {e}")),
    };
    let status = resp.status();
    let resp_is_json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the runner at {address} broke off its answer: {e}"))?
        .to_bytes();
    let json = resp_is_json;
    let value: Value = if json {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    } else {
        Value::String(String::from_utf8_lossy(&body).into_owned())
    };
    if status.is_success() {
        if let Command::Copy { out, .. } = command {
            return write_copy(out, &body).map(Some);
        }
        Ok(Some(value))
    } else {
        Err(problem_line(command, status.as_u16(), &value))
    }
}

/// Writes a held copy to `out`, a file that must not exist yet, readable by its owner only (it
/// is the account's data in the clear).
fn write_copy(out: &Path, zip: &[u8]) -> Result<Value, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    file.write_all(zip)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(json!({ "written": out.display().to_string(), "bytes": zip.len() }))
}

/// One line for a problem+json answer, the line [`error_line`] prints for the same failure on
/// the other door.
fn problem_line(command: &Command, status: u16, problem: &Value) -> String {
    match (status, problem["detail"].as_str()) {
        (404, _) => command.not_found().to_string(),
        (400 | 409, Some(detail)) => detail.to_string(),
        (_, detail) => format!(
            "{} ({status}){}",
            problem["title"].as_str().unwrap_or("request failed"),
            detail.map(|d| format!(": {d}")).unwrap_or_default()
        ),
    }
}

/// The operator token of `data_dir`.
pub fn token(data_dir: &Path) -> Result<String, String> {
    let path: PathBuf = data_dir.join("operator-token");
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_string())
        .map_err(|e| format!("cannot read the operator token: {e}"))
}

/// One line for a domain error, as the command prints it.
pub fn error_line(command: &Command, e: &warden_core::Error) -> String {
    match e {
        warden_core::Error::NotFound => command.not_found().to_string(),
        warden_core::Error::Conflict(d) => d.clone(),
        warden_core::Error::BadRequest { detail, .. } => detail.clone(),
        e => e.chain().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn commands_read_their_flags_and_leave_the_runners() {
        let i = parse(&words("list --state denied --overdue --json --data-dir /x")).unwrap();
        assert_eq!(
            i.command,
            Command::List {
                state: Some("denied".into()),
                type_name: None,
                regime: None,
                overdue: true
            }
        );
        assert!(i.json);
        assert_eq!(i.rest, words("--data-dir /x"));
        let i = parse(&words("deny abc --basis=excessive --reason repetitive")).unwrap();
        assert_eq!(
            i.command.http().1,
            "/operator/requests/abc/deny",
            "the same operation over HTTP"
        );
        let i = parse(&words("verify abc --reason called")).unwrap();
        assert_eq!(
            i.command,
            Command::Verify {
                id: "abc".into(),
                reason: "called".into()
            }
        );
        assert_eq!(i.command.http().1, "/operator/requests/abc/verify");
        let i = parse(&words(
            "hold u1 --reason claim --category profile --category photos",
        ))
        .unwrap();
        assert_eq!(
            i.command,
            Command::Hold {
                user_id: "u1".into(),
                reason: "claim".into(),
                categories: words("profile photos"),
            }
        );
        let (method, path, _) = parse(&words("release u1")).unwrap().command.http();
        assert_eq!(
            (method, path.as_str()),
            ("DELETE", "/operator/users/u1/hold")
        );
        assert!(parse(&words("verify abc")).is_err(), "a reason is required");
    }

    #[test]
    fn a_command_missing_what_it_needs_is_named() {
        for (line, named) in [
            ("extend abc", "--reason"),
            ("extend --reason x", "one request id"),
            ("list --basis x", "takes no --basis"),
            ("frobnicate", "unknown command"),
            ("metrics --year twenty", "--year"),
        ] {
            let e = parse(&words(line)).unwrap_err();
            assert!(e.contains(named), "{line}: {e}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let c = Command::List {
            state: Some("a b&c".into()),
            type_name: None,
            regime: None,
            overdue: false,
        };
        assert_eq!(c.http().1, "/operator/requests?state=a%20b%26c");
    }
}
