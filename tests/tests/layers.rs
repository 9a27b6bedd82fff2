//! The architecture, checked: which crate may reach which. Cargo already refuses an import a
//! crate does not depend on; these tests pin the dependency lists themselves, and the one rule
//! Cargo cannot see (a function's `lib.rs` and `main.rs` share one dependency list, and only the
//! main may wire adapters).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The packages in `package`'s normal (non-dev, non-build) dependency tree, as `cargo tree` prints them.
fn normal_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .current_dir(workspace())
        .args(["tree", "--offline", "-p", package, "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn assert_excludes(package: &str, forbidden: &[&str]) {
    let deps = normal_dependencies(package);
    assert!(
        deps.iter().any(|d| d == package),
        "{package} not in its own tree: {deps:?}"
    );
    let found: Vec<&String> = deps
        .iter()
        .filter(|d| forbidden.contains(&d.as_str()))
        .collect();
    assert!(found.is_empty(), "{package} depends on {found:?}");
}

#[test]
fn the_domain_depends_on_no_transport_sdk_or_storage_crate() {
    assert_excludes(
        "warden-core",
        &[
            "axum",
            "http",
            "hyper",
            "lambda_http",
            "lambda_runtime",
            "aws-config",
            "aws-sdk-dynamodb",
            "aws-sdk-kms",
            "aws-sdk-s3",
            "redb",
            "tower",
            "warden-aws",
            "warden-embedded",
            "warden-http",
        ],
    );
}

#[test]
fn the_transport_depends_on_no_adapter() {
    assert_excludes(
        "warden-http",
        &[
            "aws-sdk-dynamodb",
            "aws-sdk-kms",
            "aws-sdk-s3",
            "redb",
            "warden-aws",
            "warden-embedded",
        ],
    );
}

#[test]
fn adapters_depend_on_no_transport_and_not_on_each_other() {
    assert_excludes(
        "warden-aws",
        &[
            "axum",
            "lambda_http",
            "redb",
            "warden-embedded",
            "warden-http",
        ],
    );
    assert_excludes(
        "warden-embedded",
        &[
            "axum",
            "aws-sdk-dynamodb",
            "aws-sdk-kms",
            "aws-sdk-s3",
            "lambda_http",
            "warden-aws",
            "warden-http",
        ],
    );
}

#[test]
fn lambda_binaries_do_not_link_the_embedded_store() {
    for function in function_dirs() {
        let package = format!("warden-{}", function.file_name().unwrap().to_string_lossy());
        assert_excludes(&package, &["redb", "warden-embedded"]);
    }
}

fn function_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace().join("functions"))
        .expect("functions/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 8,
        "expected every function crate, found {dirs:?}"
    );
    dirs
}

/// A function's routes use the domain and the transport only: the adapters are the main's
/// choice (Cargo cannot tell, since a package's lib and main share one dependency list).
#[test]
fn function_libraries_import_no_adapter_crate() {
    for dir in function_dirs() {
        let lib = dir.join("src/lib.rs");
        let text = std::fs::read_to_string(&lib).expect("lib.rs");
        for adapter in ["warden_aws", "warden_embedded"] {
            assert!(
                !text.contains(adapter),
                "{} names {adapter}: wire adapters in main.rs",
                lib.display()
            );
        }
    }
}

/// The domain modules that still take the whole `Services` bag (issue 14 ends it: each
/// operation is to take what it uses, as `mail::outbox::Outbox`, `privacy::downstream::Downstream`,
/// `refresh::Refresher`, `login::SignIn` (the sign-in and every second factor) and
/// `account::Accounts` (registration, recovery, address and password changes) and
/// `monitor::Monitor` now do, built by the wiring). The list only shrinks: a module that starts taking the bag fails here, and one
/// that stops must leave the list.
const STILL_TAKING_THE_BAG: &[&str] = &[
    "privacy/erasure.rs",
    "privacy/export.rs",
    "privacy/intake.rs",
    "privacy/ledger.rs",
    "privacy/legal_hold.rs",
    "privacy/mod.rs",
    "privacy/notices.rs",
    "privacy/operations.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_new_domain_module_takes_the_services_bag() {
    let src = workspace().join("shared/core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut taking: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("a source file");
            ["&Services", "&'a Services", "&crate::services::Services"]
                .iter()
                .any(|bag| text.contains(bag))
        })
        .map(|f| {
            f.strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    taking.sort();
    let listed: Vec<String> = STILL_TAKING_THE_BAG.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = taking.iter().filter(|f| !listed.contains(f)).collect();
    let gone: Vec<&String> = listed.iter().filter(|f| !taking.contains(f)).collect();
    assert!(
        new.is_empty(),
        "these modules take the whole Services bag: pass them what they use instead: {new:?}"
    );
    assert!(
        gone.is_empty(),
        "these modules no longer take the Services bag: remove them from the list: {gone:?}"
    );
}
