//! `JsonBody<T>`: reads at most [`BODY_LIMIT`] bytes (413 beyond, before any parsing), then
//! parses JSON (400 with the parser's position, never the body itself, on failure).

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use crate::{Error, Problem};

/// The largest request body any route accepts.
pub const BODY_LIMIT: usize = 16 * 1024;

pub struct JsonBody<T>(pub T);

/// Reads the whole body, failing with 413 as soon as it passes `limit` bytes.
pub async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(Error::PayloadTooLarge { limit })
        }
        Err(_) => Err(Error::bad_request("the request body could not be read")),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Problem> {
        let (parts, body) = req.into_parts();
        if let Some(len) = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && len > BODY_LIMIT
        {
            return Err(Error::PayloadTooLarge { limit: BODY_LIMIT }.into());
        }
        let is_json = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let v = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Error::invalid("content-type", "expected application/json").into());
        }
        let bytes = read_limited(body, BODY_LIMIT).await?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            Problem(Error::bad_request(format!(
                "malformed JSON body at line {} column {}: {}",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Data => "wrong or missing fields",
                    serde_json::error::Category::Syntax => "syntax error",
                    serde_json::error::Category::Eof => "unexpected end",
                    serde_json::error::Category::Io => "read error",
                }
            )))
        })
    }
}
