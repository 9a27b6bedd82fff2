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

/// No domain operation takes the whole `Services` bag: each takes what it uses — a component
/// that holds its own dependencies (`mail::outbox::Outbox`, `privacy::downstream::Downstream`)
/// or the view of an area the wiring builds (`login::SignIn`, `account::Accounts`,
/// `refresh::Refresher`, `monitor::Monitor`, `privacy::Privacy`). `services.rs` is the wiring
/// itself, the one place that builds them.
#[test]
fn no_domain_module_takes_the_services_bag() {
    let src = workspace().join("shared/core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let taking: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("services.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("a source file");
            [
                "&Services",
                "&'a Services",
                "&crate::services::Services",
                "Arc<Services>",
            ]
            .iter()
            .any(|bag| text.contains(bag))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        taking.is_empty(),
        "these modules take the whole Services bag: pass them what they use instead: {taking:?}"
    );
}
