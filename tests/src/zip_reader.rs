//! An independent ZIP reader for the tests: Python's `zipfile` (not Warden's writer's own
//! crate), which checks every entry's CRC.

use std::collections::BTreeMap;

use serde_json::Value;

/// Runs `python3 -c script ARCHIVE` on the archive (Python's `zipfile`, a reader independent of
/// Warden's writer; `testzip` checks every CRC) and parses the JSON it prints.
pub fn read_with_zipfile(bytes: &[u8], listing: &str) -> Value {
    let dir = crate::fixtures::TempDir::new();
    let path = dir.0.join("export.zip");
    std::fs::write(&path, bytes).unwrap();
    let script = format!(
        "import base64, hashlib, json, sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         assert z.testzip() is None\n\
         print(json.dumps({listing}))"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(&path)
        .output()
        .expect("python3 (the ZIP reader) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The archive's entries as name → bytes.
pub fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    use base64::Engine;
    let listing: BTreeMap<String, String> = serde_json::from_value(read_with_zipfile(
        bytes,
        "{n: base64.b64encode(z.read(n)).decode() for n in z.namelist()}",
    ))
    .unwrap();
    listing
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                base64::engine::general_purpose::STANDARD.decode(v).unwrap(),
            )
        })
        .collect()
}
