//! The `jwks` function: `GET /.well-known/jwks.json`, the public keys that verify Warden's
//! access tokens (the signing key, the next key, and retired keys whose tokens may be live); and
//! `GET /.well-known/audit-digest-key`, the public key that verifies the audit log's digests —
//! published apart, never in the token key set, where a verifier would accept it for tokens.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::JwkSet;
use warden_core::services::AppState;
use warden_http::Problem;

async fn jwks(State(s): State<AppState>) -> Result<Response, Problem> {
    // API Gateway fetches this document regularly, so it also drives rotation: the next key is
    // created here once due (a transaction, safe when several instances try at once) and
    // published for two hours before it signs.
    if s.signing.rotation_due().await {
        s.signing.rotate_if_due().await?;
    }
    let keys = s.signing.jwks().await?;
    let mut resp = Json(JwkSet { keys }).into_response();
    // Short enough that a newly published key is seen well within its two-hour lead.
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

/// The audit digest key's public half, straight from the key's holder (KMS `GetPublicKey`), not
/// from the table: whoever could write a published copy could swap in a key of their own.
async fn audit_digest_key(State(s): State<AppState>) -> Result<Response, Problem> {
    let Some(signer) = &s.backends.digest_signer else {
        return Err(warden_core::Error::NotFound.into());
    };
    let key = signer.public_key().await?;
    let mut resp = Json(serde_json::json!({
        "key_id": key.key_id,
        "algorithm": warden_core::digest_signer::ALGORITHM,
        "public_key_pem": key.pem(),
    }))
    .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(resp)
}

/// OpenID Connect discovery, the minimum the API Gateway HTTP API JWT authorizer reads: the
/// issuer and where its keys are (`jwks_uri`). Warden is not an OpenID provider; only the keys
/// and the signing algorithm are described.
async fn openid_configuration(State(s): State<AppState>) -> Response {
    let issuer = s.config.issuer.trim_end_matches('/');
    let mut resp = Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    }))
    .into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/audit-digest-key", get(audit_digest_key))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
}
