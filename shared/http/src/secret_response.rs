//! Answers that carry secrets — a sign-in's tokens and cookies, a second step's token, a TOTP
//! secret, recovery codes — built in one place so none is ever cached (`Cache-Control:
//! no-store`) and every sign-in sets its cookies the same way (login and its second step).

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use warden_core::login::LoginOutcome;

use crate::{Problem, cookies};

/// `resp` with `Cache-Control: no-store`.
pub fn no_store(resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A new session: the login body, the refresh cookie and, for a device not seen before, its
/// device cookie.
pub fn signed_in(out: LoginOutcome) -> Result<Response, Problem> {
    let refresh = cookies::set_refresh(&out.refresh_token, out.refresh_max_age);
    let device = out.new_device_cookie.as_deref().map(cookies::set_device);
    let mut resp = no_store(Json(out.body));
    let h = resp.headers_mut();
    for cookie in std::iter::once(refresh).chain(device) {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie)
                .map_err(|e| warden_core::Error::internal("a Set-Cookie header", e))?,
        );
    }
    Ok(resp)
}
