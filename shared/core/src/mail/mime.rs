//! A [`Message`] as an RFC 5322 document and back: `multipart/alternative` with a plain-text
//! and an HTML part, each UTF-8 in base64, and the subject as an RFC 2047 encoded word. One
//! form for both adapters: SES sends it as a raw message, the local outbox stores it as a file,
//! and both read it back with [`parse`] (the conformance suite compares what arrived).
//!
//! Base64 everywhere keeps the document 7-bit with lines of at most 76 characters, and no
//! value can break out of its header or part: the recipient is a validated address and the
//! subject is encoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::Message;
use crate::clock::Timestamp;
use crate::{Error, Result};

const BOUNDARY: &str = "warden-alternative-7f3c2a";

fn wrapped(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

/// The message as sent: headers `From`, `To`, `Subject`, `Date`, `Message-ID`, MIME parts.
pub fn render(m: &Message, from: &str, sent_at: Timestamp, message_id: &str) -> Result<String> {
    for (name, value) in [("to", m.to.as_str()), ("from", from)] {
        if value
            .chars()
            .any(|c| c.is_control() || c == ',' || c == ';')
            || !value.contains('@')
        {
            return Err(Error::Internal(format!("not one plain address in {name}")));
        }
    }
    Ok(format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?UTF-8?B?{subject}?=\r\nDate: {date}\r\n\
         Message-ID: <{message_id}@warden>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{BOUNDARY}\"\r\n\r\n\
         --{BOUNDARY}\r\nContent-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{text}\
         --{BOUNDARY}\r\nContent-Type: text/html; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{html}\
         --{BOUNDARY}--\r\n",
        to = m.to,
        subject = STANDARD.encode(m.subject.as_bytes()),
        date = sent_at.to_rfc2822(),
        text = wrapped(m.text.as_bytes()),
        html = wrapped(m.html.as_bytes()),
    ))
}

/// A message read back from [`render`]'s form, with its `Date` header.
pub fn parse(raw: &str) -> Result<(Message, String)> {
    let bad = || Error::Internal("not a message in Warden's form".into());
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(bad)?;
    let header = |name: &str| {
        head.split("\r\n")
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .map(str::to_string)
    };
    let subject = header("Subject")
        .and_then(|s| {
            let inner = s.strip_prefix("=?UTF-8?B?")?.strip_suffix("?=")?;
            String::from_utf8(STANDARD.decode(inner).ok()?).ok()
        })
        .ok_or_else(bad)?;
    let mut parts = Vec::new();
    for part in body.split(&format!("--{BOUNDARY}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (_, content) = part.split_once("\r\n\r\n").ok_or_else(bad)?;
        let joined: String = content.split_whitespace().collect();
        let bytes = STANDARD.decode(joined).map_err(|_| bad())?;
        parts.push(String::from_utf8(bytes).map_err(|_| bad())?);
    }
    let [text, html]: [String; 2] = parts.try_into().map_err(|_| bad())?;
    Ok((
        Message {
            to: header("To").ok_or_else(bad)?,
            subject,
            text,
            html,
        },
        header("Date").unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_the_round_trip_with_its_unicode_and_long_lines() {
        let m = Message {
            to: "ada@example.com".into(),
            subject: "Grüße: a new sign-in".into(),
            text: format!("line one\n{}\n", "x".repeat(300)),
            html: "<p>Grüße &amp; more</p>".into(),
        };
        let raw = render(&m, "no-reply@example.com", Timestamp(0), "id1").unwrap();
        assert!(raw.lines().all(|l| l.len() <= 78), "{raw}");
        assert!(raw.is_ascii());
        let (back, date) = parse(&raw).unwrap();
        assert_eq!(back, m);
        assert_eq!(date, "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn a_recipient_that_is_not_one_plain_address_is_refused() {
        for to in ["a@b.c\r\nBcc: x@y.z", "a@b.c, x@y.z", "nobody"] {
            let m = Message {
                to: to.into(),
                subject: String::new(),
                text: String::new(),
                html: String::new(),
            };
            assert!(
                render(&m, "no-reply@example.com", Timestamp(0), "i").is_err(),
                "{to}"
            );
        }
    }
}
