//! Logging as Lambda's advanced logging controls expect it, the way `lambda_runtime`'s
//! `init_default_subscriber` reads them: the level from `AWS_LAMBDA_LOG_LEVEL` (it wins), else
//! `RUST_LOG` (a full filter), else `info`; the format from `AWS_LAMBDA_LOG_FORMAT` — JSON unless
//! it says `Text` (the template sets `LogFormat: JSON`, so CloudWatch Logs Insights and the
//! metric filters read fields, not text; the alert filters match `$.target`). Every line
//! written while a request is served carries its request id (the span [`crate::request_log`]
//! opens).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// What the environment asks of the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    /// An `EnvFilter` directive.
    pub filter: String,
}

impl LogSettings {
    /// Reads the settings through `var` (the process environment in [`init`]).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> LogSettings {
        let json = !var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text"));
        let filter = match var("AWS_LAMBDA_LOG_LEVEL") {
            // Lambda's levels are TRACE, DEBUG, INFO, WARN, ERROR and FATAL; tracing has no
            // FATAL, whose nearest is ERROR.
            Some(level) if level.eq_ignore_ascii_case("fatal") => LevelFilter::ERROR.to_string(),
            Some(level) => level
                .parse::<LevelFilter>()
                .unwrap_or(LevelFilter::INFO)
                .to_string(),
            None => var("RUST_LOG")
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| "info".into()),
        };
        LogSettings {
            json,
            filter: filter.to_lowercase(),
        }
    }
}

/// Installs the process's subscriber, writing to stdout (once; a second call does nothing).
pub fn init() {
    let settings = LogSettings::from_vars(|name| std::env::var(name).ok());
    install(&settings, std::io::stdout);
}

/// Installs the subscriber `settings` describe, writing to `writer` (a test captures the lines);
/// does nothing if the process has one already.
pub fn install<W>(settings: &LogSettings, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .without_time();
    let _ = if settings.json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn json_at_info_unless_lambda_or_rust_log_says_otherwise() {
        assert_eq!(
            settings(&[]),
            LogSettings {
                json: true,
                filter: "info".into()
            }
        );
        assert!(!settings(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        assert_eq!(
            settings(&[("RUST_LOG", "warden_core=debug")]).filter,
            "warden_core=debug"
        );
    }

    #[test]
    fn lambdas_log_level_wins_and_fatal_means_error() {
        let both = settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "trace")]);
        assert_eq!(both.filter, "debug");
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter,
            "error"
        );
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]).filter, "warn");
        assert_eq!(
            settings(&[("AWS_LAMBDA_LOG_LEVEL", "nonsense")]).filter,
            "info"
        );
    }
}
