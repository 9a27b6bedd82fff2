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

/// The modules named in the repository column of the schema's table of item kinds
/// (`shared/core/src/table/schema.rs`), as source files of `warden-core`.
fn repository_modules() -> Vec<PathBuf> {
    let src = workspace().join("shared/core/src");
    let schema = std::fs::read_to_string(src.join("table/schema.rs")).expect("schema.rs");
    let mut modules: Vec<PathBuf> = schema
        .lines()
        .filter_map(|l| l.strip_prefix("//! |"))
        .filter_map(|row| {
            let last = row.trim_end().strip_suffix('|')?.rsplit('|').next()?.trim();
            let module = last.strip_prefix('`')?.strip_suffix('`')?;
            Some(module.replace("::", "/"))
        })
        .map(|module| {
            let file = src.join(format!("{module}.rs"));
            let dir = src.join(&module).join("mod.rs");
            assert!(
                file.is_file() || dir.is_file(),
                "the schema names repository `{module}`, which is no module of warden-core"
            );
            if file.is_file() { file } else { dir }
        })
        .collect();
    modules.sort();
    modules.dedup();
    assert!(
        modules.len() > 20,
        "the schema's table names its repositories: {modules:?}"
    );
    modules
}

/// Where a source line formats a table key or reads an item attribute by its name:
/// `Key::new(`, a string literal opening with an upper-case key prefix (`"USER#`), or
/// `.s("name")`, `.n("name")`, `.b("name")`, `.bool("name")`.
fn touches_the_layout(line: &str) -> Option<&'static str> {
    let code = line.split("//").next().unwrap_or("");
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices("Key::new(") {
        let before = &code[..i];
        // The table's `Key`, bare or by its path; not `hmac::Key` or `UnboundKey`.
        let table_key = if before.ends_with("::") {
            before.ends_with("table::")
        } else {
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
        };
        if table_key {
            return Some("formats a table key");
        }
    }
    for (i, _) in code.match_indices('"') {
        let rest = &code[i + 1..];
        let prefix: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .collect();
        if prefix.len() >= 3 && rest[prefix.len()..].starts_with('#') {
            return Some("formats a table key");
        }
    }
    for getter in [".s(\"", ".n(\"", ".b(\"", ".bool(\""] {
        for (i, _) in code.match_indices(getter) {
            let rest = &code[i + getter.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with("\")") {
                return Some("reads an item attribute by name");
            }
        }
    }
    None
}

/// Typed repositories own the single-table layout: outside the modules the schema names as
/// repositories, no source file (tests aside) formats a table key or reads an item attribute by
/// name — not the domain's other modules, not the transport, not the functions, not the local
/// runner. The table port itself (`table/`) and the data map (which lists key *shapes* to
/// classify stored items, and formats no key) are the two exceptions.
#[test]
fn items_are_read_and_keyed_only_by_their_repository() {
    let root = workspace();
    let allowed: Vec<PathBuf> = repository_modules()
        .into_iter()
        .chain([
            root.join("shared/core/src/table/mod.rs"),
            root.join("shared/core/src/table/schema.rs"),
            root.join("shared/core/src/privacy/data_map.rs"),
        ])
        .collect();
    let mut files = Vec::new();
    for dir in ["shared/core/src", "shared/http/src", "local/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    for dir in function_dirs() {
        rust_files(&dir.join("src"), &mut files);
    }
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !allowed.contains(f)) {
        let text = std::fs::read_to_string(file).expect("a source file");
        // Unit tests may look at what was stored.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            if let Some(what) = touches_the_layout(line) {
                found.push(format!(
                    "{}:{}: {what}: {}",
                    file.strip_prefix(&root).unwrap_or(file).display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only an item kind's repository (schema.rs names it) formats its keys and reads its \
         attributes:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layout_check_sees_keys_and_attribute_reads() {
    assert!(touches_the_layout(r#"Key::new(format!("USER#{id}"), "PROFILE")"#).is_some());
    assert!(touches_the_layout(r#"let pk = format!("SESSION#{sid}");"#).is_some());
    assert!(touches_the_layout(r#"item.n("token_epoch")"#).is_some());
    assert!(touches_the_layout(r#"i.bool("active")"#).is_some());
    assert!(touches_the_layout(r#"crate::table::Key::new(pk, "X")"#).is_some());
    assert!(touches_the_layout(r#"hmac::Key::new(hmac::HMAC_SHA256, k)"#).is_none());
    assert!(touches_the_layout(r#"UnboundKey::new(&AES_256_GCM, &enc)"#).is_none());
    assert!(touches_the_layout(r#"json.get("bearer")"#).is_none());
    assert!(touches_the_layout(r#"// see "USER#{id}""#).is_none());
}
