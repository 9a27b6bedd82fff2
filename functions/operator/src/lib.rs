//! The `operator` function: the privacy operator API, for the people who answer requests and
//! the DSR platforms they use. Every route needs an operator ([`OperatorCaller`]: IAM on AWS,
//! the operator token in `warden-local`) and calls [`warden_core::privacy::operations`], the same
//! operations `warden-local privacy …` runs.
//!
//! - `GET /operator/requests?state&type&regime&overdue`: the requests, open ones first
//! - `GET /operator/requests/{id}`: one request with its history (404 for an unknown id)
//! - `POST /operator/requests/{id}/extend {reason}`: the one extension, before the due date
//!   (409 for a second or a late one)
//! - `POST /operator/requests/{id}/deny {basis, reason}`: a refusal on one of the fixed bases
//! - `POST /operator/requests/{id}/verify {reason}`: verifies a request waiting for an
//!   operator (an authorized agent's, once its signed permission is uploaded; or one made by
//!   mail for an account with a second factor); the schedule then runs it
//! - `GET /operator/requests/{id}/permission`: a one-hour link to an agent's signed permission
//! - `POST /operator/requests/{id}/acks {recipient}`: a downstream recipient acknowledged an
//!   erasure or an opt-out; the last one completes the request
//! - `POST /operator/users/{id}/hold {reason, categories?}`: a legal hold on an account (404
//!   for an unknown one, 409 when held already or its erasure has begun); `GET` shows it,
//!   `DELETE` lifts it (deleting the copy an erasure sealed); `GET …/hold/copy` is that copy
//!   (the archive the export writes, of the held categories)
//! - `GET /operator/metrics?year`: CCPA regulations § 7102 figures for a year
//! - `GET /operator/ropa?format=md|json&notice`: the record of processing (GDPR Art. 30) from
//!   the data map, or a notice-at-collection draft

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use warden_core::Error;
use warden_core::privacy::legal_hold::{self, Hold};
use warden_core::privacy::operations::{self, Desk, Filter, Metrics, OperatorView};
use warden_core::privacy::ropa;
use warden_core::services::AppState;
use warden_http::operator::OperatorCaller;
use warden_http::{ClientMeta, JsonBody, Result};

/// The query parameters of a request, each at most once; anything else is a 400 naming it.
fn params(
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
    known: &[&str],
) -> Result<Vec<(String, String)>> {
    let Query(pairs) = query.map_err(|e| Error::bad_request(e.body_text()))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(Error::invalid(name, "unknown parameter").into());
        }
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::invalid(name, "given more than once").into());
        }
    }
    Ok(pairs)
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A boolean parameter: absent or `false`, present (bare) or `true`.
fn flag(pairs: &[(String, String)], name: &str) -> Result<bool> {
    match param(pairs, name) {
        None | Some("false") => Ok(false),
        Some("" | "true") => Ok(true),
        Some(_) => Err(Error::invalid(name, "true or false").into()),
    }
}

#[derive(Serialize)]
struct RequestList {
    requests: Vec<OperatorView>,
}

async fn list(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<RequestList>> {
    let pairs = params(query, &["state", "type", "regime", "overdue"])?;
    let overdue = flag(&pairs, "overdue")?;
    let filter = Filter::parse(
        param(&pairs, "state"),
        param(&pairs, "type"),
        param(&pairs, "regime"),
        overdue,
    )?;
    let requests =
        operations::list(s.backends.table.as_ref(), &filter, s.backends.clock.now()).await?;
    Ok(Json(RequestList { requests }))
}

async fn show(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    Path(id): Path<String>,
) -> Result<Json<OperatorView>> {
    let view = operations::show(s.backends.table.as_ref(), &id, s.backends.clock.now()).await?;
    Ok(Json(view))
}

fn desk(s: &AppState) -> Desk<'_> {
    Desk {
        s: s.privacy(),
        now: s.backends.clock.now(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn extend(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Json<OperatorView>> {
    let view = desk(&s).extend(&op, &id, &body.reason, &meta).await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyBody {
    basis: String,
    reason: String,
}

async fn deny(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<DenyBody>,
) -> Result<Json<OperatorView>> {
    let view = desk(&s)
        .deny(&op, &id, &body.basis, &body.reason, &meta)
        .await?;
    Ok(Json(view))
}

async fn verify(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReasonBody>,
) -> Result<Json<OperatorView>> {
    Ok(Json(desk(&s).verify(&op, &id, &body.reason, &meta).await?))
}

async fn permission(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    Ok(Json(desk(&s).permission_link(&id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    recipient: String,
}

async fn acknowledge(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AckBody>,
) -> Result<Json<OperatorView>> {
    let view = desk(&s)
        .acknowledge(&op, &id, &body.recipient, &meta)
        .await?;
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    reason: String,
    #[serde(default)]
    categories: Option<Vec<String>>,
}

async fn place_hold(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(user_id): Path<String>,
    JsonBody(body): JsonBody<HoldBody>,
) -> Result<(axum::http::StatusCode, Json<Hold>)> {
    let hold = desk(&s)
        .hold(
            &op,
            &user_id,
            &body.reason,
            body.categories.as_deref(),
            &meta,
        )
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(hold)))
}

async fn show_hold(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    Path(user_id): Path<String>,
) -> Result<Json<Hold>> {
    let hold = legal_hold::get(s.backends.table.as_ref(), &user_id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(hold))
}

async fn release_hold(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(user_id): Path<String>,
) -> Result<Json<Hold>> {
    Ok(Json(desk(&s).release(&op, &user_id, &meta).await?))
}

async fn held_copy(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    Path(user_id): Path<String>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let zip = legal_hold::open_copy(&s.privacy(), &user_id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/zip")], zip).into_response())
}

async fn metrics(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Metrics>> {
    let pairs = params(query, &["year"])?;
    let year = match param(&pairs, "year") {
        None => s.backends.clock.now().year(),
        Some(y) => y
            .parse()
            .map_err(|_| Error::invalid("year", "a year such as 2026"))?,
    };
    Ok(Json(
        operations::metrics(s.backends.table.as_ref(), year).await?,
    ))
}

/// What `GET /operator/ropa` answers: the Art. 30 record as JSON or Markdown, or the notice at
/// collection (Markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopaForm {
    Json,
    Markdown,
    Notice,
}

impl RopaForm {
    /// The form `format` and `notice` name (400 for another format).
    pub fn parse(format: Option<&str>, notice: bool) -> warden_core::Result<Self> {
        match (format, notice) {
            (None | Some("md"), true) => Ok(RopaForm::Notice),
            (Some("json"), true) => Err(Error::invalid("format", "the notice is Markdown only")),
            (None | Some("md"), false) => Ok(RopaForm::Markdown),
            (Some("json"), false) => Ok(RopaForm::Json),
            (Some(_), _) => Err(Error::invalid("format", "md or json")),
        }
    }

    /// The document, as text (Markdown) or JSON.
    pub fn render(self, s: &AppState) -> warden_core::Result<serde_json::Value> {
        let region = std::env::var("AWS_REGION").ok();
        let record = ropa::record(&s.config, region.as_deref());
        Ok(match self {
            RopaForm::Json => {
                serde_json::to_value(&record).map_err(|e| Error::internal("JSON encoding", e))?
            }
            RopaForm::Markdown => serde_json::Value::String(record.to_markdown()),
            RopaForm::Notice => serde_json::Value::String(record.notice_at_collection()),
        })
    }
}

async fn record_of_processing(
    State(s): State<AppState>,
    OperatorCaller(_): OperatorCaller,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let pairs = params(query, &["format", "notice"])?;
    let notice = flag(&pairs, "notice")?;
    let form = RopaForm::parse(param(&pairs, "format"), notice)?;
    Ok(match form.render(&s)? {
        serde_json::Value::String(md) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            md,
        )
            .into_response(),
        json => Json(json).into_response(),
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/operator/requests", get(list))
        .route("/operator/requests/{id}", get(show))
        .route("/operator/requests/{id}/extend", post(extend))
        .route("/operator/requests/{id}/deny", post(deny))
        .route("/operator/requests/{id}/acks", post(acknowledge))
        .route("/operator/requests/{id}/verify", post(verify))
        .route("/operator/requests/{id}/permission", get(permission))
        .route(
            "/operator/users/{id}/hold",
            get(show_hold).post(place_hold).delete(release_hold),
        )
        .route("/operator/users/{id}/hold/copy", get(held_copy))
        .route("/operator/metrics", get(metrics))
        .route("/operator/ropa", get(record_of_processing))
}
