//! Every file the embedded backends write is the operator's alone: directories 0700, files
//! 0600, set when created (not by a later `chmod` that could fail unnoticed) and checked, so
//! start-up fails naming the path when they cannot be. The data directory holds the master key,
//! the user data, the exports and (locally) mail with reset links.

use std::path::Path;

use warden_core::{Error, Result};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

fn refused(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    // The path is the point of the message (start-up names it), so it is part of the source.
    Error::unavailable(
        "data directory",
        format!("{}: cannot {what}: {e}", path.display()),
    )
}

/// Creates `dir` (and missing parents) with mode 0700, makes an existing one 0700, and checks.
pub fn private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .map_err(|e| refused(dir, "create the directory", e))?;
    #[cfg(unix)]
    {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refused(dir, "set mode 0700", e))?;
        check_mode(dir, 0o700)?;
    }
    Ok(())
}

/// Creates `file` empty with mode 0600 if absent, makes an existing one 0600, and checks.
pub fn private_file(file: &Path) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(file)
        .map_err(|e| refused(file, "create the file", e))?;
    #[cfg(unix)]
    {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| refused(file, "set mode 0600", e))?;
        check_mode(file, 0o600)?;
    }
    Ok(())
}

/// Creates `path` with mode 0600, failing with `AlreadyExists` if another process made it
/// first (the callers then read theirs): for the runner's key files.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path)
}

/// Options that create a new file with mode 0600 (for tokio's `OpenOptions` too).
pub fn new_private_file() -> tokio::fs::OpenOptions {
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts
}

/// `tokio`'s [`private_dir`], for the blob store's nested directories.
pub async fn private_dir_async(dir: &Path) -> Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .await
        .map_err(|e| refused(dir, "create the directory", e))
}

#[cfg(unix)]
fn check_mode(path: &Path, want: u32) -> Result<()> {
    let mode = std::fs::metadata(path)
        .map_err(|e| refused(path, "read its mode", e))?
        .permissions()
        .mode()
        & 0o777;
    if mode != want {
        return Err(refused(
            path,
            "keep it private",
            format!("mode is {mode:o}, expected {want:o}"),
        ));
    }
    Ok(())
}
