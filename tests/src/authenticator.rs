//! A software authenticator for the tests: a P-256 key per credential, attestation `none`,
//! user presence and verification flagged, written from the WebAuthn Level 3 and CTAP2 texts
//! (authenticator data, COSE keys, the CBOR they travel in) with AWS-LC's ECDSA, not with the
//! crate Warden verifies with, so the two are checked against each other. Its answers are in the
//! encoding of `PublicKeyCredential.toJSON()`; each can be bent to play an attacker (another
//! origin, another relying party, a counter that does not grow).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .expect("base64url")
}

/// The CBOR this authenticator writes (RFC 8949): unsigned and negative integers, byte and text
/// strings, maps.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((n as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 26);
                out.extend((n as u32).to_be_bytes());
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(i) if *i >= 0 => Self::head(out, 0, *i as u64),
            Cbor::Int(i) => Self::head(out, 1, (-1 - *i) as u64),
            Cbor::Bytes(b) => {
                Self::head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Cbor::Text(t) => {
                Self::head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Cbor::Map(entries) => {
                Self::head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

/// One credential this authenticator made.
pub struct Credential {
    pub id: Vec<u8>,
    key: EcdsaKeyPair,
    pub user_handle: Vec<u8>,
    pub rp_id: String,
    /// The signature counter the next assertion reports (then incremented).
    pub counter: u32,
}

/// What an answer may be bent by, to play an attacker.
#[derive(Default, Clone)]
pub struct Bend {
    /// The origin `clientDataJSON` names instead of the right one.
    pub origin: Option<String>,
    /// The relying party whose id hash the authenticator data carries instead.
    pub rp_id: Option<String>,
    /// The counter reported instead of the credential's next one.
    pub counter: Option<u32>,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
    json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
        .to_string()
        .into_bytes()
}

/// `navigator.credentials.create()` on `options` (the `publicKey` member) from `origin`.
pub fn create(options: &Value, origin: &str, bend: &Bend) -> (Credential, Value) {
    let rp_id = options["rp"]["id"].as_str().expect("rp.id").to_string();
    let challenge = options["challenge"].as_str().expect("challenge");
    let user_handle = unb64(options["user"]["id"].as_str().expect("user.id"));
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
    let point = key.public_key().as_ref().to_vec(); // 0x04 || x || y
    let id = crate::fixtures::unique("cred").into_bytes();
    let cose = Cbor::Map(vec![
        (Cbor::Int(1), Cbor::Int(2)),  // kty: EC2
        (Cbor::Int(3), Cbor::Int(-7)), // alg: ES256
        (Cbor::Int(-1), Cbor::Int(1)), // crv: P-256
        (Cbor::Int(-2), Cbor::Bytes(point[1..33].to_vec())),
        (Cbor::Int(-3), Cbor::Bytes(point[33..65].to_vec())),
    ]);
    let rp_hash = digest(&SHA256, bend.rp_id.as_deref().unwrap_or(&rp_id).as_bytes());
    let mut auth_data = rp_hash.as_ref().to_vec();
    auth_data.push(UP | UV | AT);
    auth_data.extend(0u32.to_be_bytes());
    auth_data.extend([0u8; 16]); // AAGUID
    auth_data.extend((id.len() as u16).to_be_bytes());
    auth_data.extend(&id);
    auth_data.extend(cose.encode());
    let attestation = Cbor::Map(vec![
        (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
        (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
        (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
    ]);
    let cd = client_data(
        "webauthn.create",
        challenge,
        bend.origin.as_deref().unwrap_or(origin),
    );
    let answer = json!({
        "id": b64(&id),
        "rawId": b64(&id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64(&cd),
            "attestationObject": b64(&attestation.encode()),
            "transports": ["internal"],
        },
        "clientExtensionResults": {},
    });
    let credential = Credential {
        id,
        key,
        user_handle,
        rp_id,
        counter: 1,
    };
    (credential, answer)
}

impl Credential {
    /// `navigator.credentials.get()` on `options` (the `publicKey` member) from `origin`: a
    /// discoverable assertion, with the user handle.
    pub fn get(&mut self, options: &Value, origin: &str, bend: &Bend) -> Value {
        let challenge = options["challenge"].as_str().expect("challenge");
        let counter = bend.counter.unwrap_or(self.counter);
        self.counter = self.counter.max(counter) + 1;
        let rp_hash = digest(
            &SHA256,
            bend.rp_id.as_deref().unwrap_or(&self.rp_id).as_bytes(),
        );
        let mut auth_data = rp_hash.as_ref().to_vec();
        auth_data.push(UP | UV);
        auth_data.extend(counter.to_be_bytes());
        let cd = client_data(
            "webauthn.get",
            challenge,
            bend.origin.as_deref().unwrap_or(origin),
        );
        let mut signed = auth_data.clone();
        signed.extend(digest(&SHA256, &cd).as_ref());
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.id),
            "rawId": b64(&self.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&cd),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}
