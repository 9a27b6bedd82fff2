//! Command-line flags of `warden-local` (no argument-parsing dependency: four flags).

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Aws,
}

#[derive(Debug, Clone)]
pub struct Args {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub backend: Backend,
    /// Added to the system time by the runner's clock (may be negative).
    pub time_offset_millis: i64,
}

pub const USAGE: &str = "\
usage: warden-local [--listen ADDR] [--data-dir DIR] [--backend embedded|aws] [--time-offset DURATION]
       warden-local audit verify [--data-dir DIR] [--backend embedded|aws]
       warden-local audit digest [--data-dir DIR] [--backend embedded|aws]
       warden-local audit shards --count N [--data-dir DIR] [--backend embedded|aws]

  --listen       address to serve on (default 127.0.0.1:3000)
  --data-dir     where the embedded backends keep their files (default ./.warden)
  --backend      embedded (default) or aws (the AWS SDK's usual configuration; AWS_ENDPOINT_URL
                 points it at an emulator, WARDEN_TABLE etc. name the resources)
  --time-offset  shift the runner's clock, e.g. 25h or -10m (for demos and expiry tests)

Settings come from WARDEN_* environment variables, as for the Lambdas (see README).";

impl Default for Args {
    fn default() -> Self {
        Args {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from(".warden"),
            backend: Backend::Embedded,
            time_offset_millis: 0,
        }
    }
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args::default();
        while let Some(flag) = it.next() {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (flag.clone(), None),
            };
            if name == "--help" || name == "-h" {
                return Err(USAGE.to_string());
            }
            let value = match inline.or_else(|| it.next()) {
                Some(v) => v,
                None => return Err(format!("{name} needs a value\n\n{USAGE}")),
            };
            match name.as_str() {
                "--listen" => {
                    args.listen = value.parse().map_err(|_| {
                        format!("--listen: {value:?} is not an address like 127.0.0.1:3000")
                    })?
                }
                "--data-dir" => args.data_dir = PathBuf::from(value),
                "--backend" => {
                    args.backend = match value.as_str() {
                        "embedded" => Backend::Embedded,
                        "aws" => Backend::Aws,
                        _ => {
                            return Err(format!(
                                "--backend: expected embedded or aws, got {value:?}"
                            ));
                        }
                    }
                }
                "--time-offset" => {
                    let (neg, rest) = match value.strip_prefix('-') {
                        Some(r) => (true, r),
                        None => (false, value.as_str()),
                    };
                    let d = warden_core::config::parse_duration(rest).ok_or_else(|| {
                        format!("--time-offset: {value:?} is not a duration like 25h or -10m")
                    })?;
                    let ms = d.as_millis() as i64;
                    args.time_offset_millis = if neg { -ms } else { ms };
                }
                _ => return Err(format!("unknown flag {name}\n\n{USAGE}")),
            }
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> Result<Args, String> {
        Args::parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse_with_spaces_or_equals() {
        let a = parse(&[
            "--listen",
            "127.0.0.1:4000",
            "--backend=aws",
            "--time-offset",
            "-10m",
        ])
        .unwrap();
        assert_eq!(a.listen.port(), 4000);
        assert_eq!(a.backend, Backend::Aws);
        assert_eq!(a.time_offset_millis, -600_000);
        assert_eq!(parse(&[]).unwrap().listen.port(), 3000);
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(
            parse(&["--backend", "cloud"])
                .unwrap_err()
                .contains("--backend")
        );
        assert!(
            parse(&["--frobnicate", "1"])
                .unwrap_err()
                .contains("--frobnicate")
        );
        assert!(parse(&["--listen"]).unwrap_err().contains("needs a value"));
    }
}
