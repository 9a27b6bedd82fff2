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
//! - `GET /operator/metrics?year`: CCPA regulations § 7102 figures for a year

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use warden_core::Error;
use warden_core::privacy::operations::{self, Desk, Filter, Metrics, OperatorView};
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
    let overdue = match param(&pairs, "overdue") {
        None | Some("false") => false,
        Some("" | "true") => true,
        Some(_) => return Err(Error::invalid("overdue", "true or false").into()),
    };
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
        table: s.backends.table.as_ref(),
        audit: &s.audit,
        now: s.backends.clock.now(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    reason: String,
}

async fn extend(
    State(s): State<AppState>,
    OperatorCaller(op): OperatorCaller,
    ClientMeta(meta): ClientMeta,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtendBody>,
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

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/operator/requests", get(list))
        .route("/operator/requests/{id}", get(show))
        .route("/operator/requests/{id}/extend", post(extend))
        .route("/operator/requests/{id}/deny", post(deny))
        .route("/operator/metrics", get(metrics))
}
