//! A minimal HTTP/1.1 client for loopback servers in tests (`Connection: close`, read to EOF).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `name=value` of the cookie this response sets under `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| format!("{name}={v}"))
    }
    /// The refresh cookie this response sets (`name=value`); panics if it sets none.
    pub fn refresh_cookie(&self) -> String {
        self.cookie(warden_http::cookies::REFRESH)
            .expect("a refresh cookie")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    /// `Bearer {access_token}` of a login or refresh answer, for an `Authorization` header.
    pub fn bearer(&self) -> String {
        let json = self.json();
        let token = json["access_token"].as_str().expect("an access token");
        format!("Bearer {token}")
    }
}

/// Sends one request to an `http://host:port/...` URL on loopback.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    request_from(None, method, url, headers, body).await
}

/// A loopback source address of its own (127.x.y.z), so a test's per-IP state is not shared.
pub fn unique_loopback() -> std::net::IpAddr {
    let id = warden_core::users::new_user_id().expect("rng");
    let b = |i: usize| u8::from_str_radix(&id[i..i + 2], 16).unwrap();
    std::net::IpAddr::from([127, b(0), b(2), b(4).max(2)])
}

/// As [`request`], from the source address `src` (any 127.0.0.0/8 address on Linux).
pub async fn request_from(
    src: Option<std::net::IpAddr>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let rest = url
        .strip_prefix("http://")
        .expect("only plain http URLs on loopback");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = match src {
        None => tokio::net::TcpStream::connect(authority).await?,
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(ip, 0))?;
            let addr = tokio::net::lookup_host(authority)
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            socket.connect(addr).await?
        }
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    // The authority as Host, unless the caller names another (a rebinding test does).
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {authority}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..i])
                .unwrap_or("0")
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 2 + size + 2..];
    }
    out
}

pub async fn get(url: &str) -> std::io::Result<Response> {
    request("GET", url, &[], b"").await
}

pub async fn post_json(url: &str, body: &serde_json::Value) -> std::io::Result<Response> {
    request(
        "POST",
        url,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
}
