//! Test harness: fixtures for both backends of every port, the conformance suites run on each
//! (object_store's pattern: one set of test functions, instantiated per adapter by a macro), and
//! a minimal HTTP/1.1 client for loopback servers.
//!
//! The AWS fixtures need the emulator that `scripts/test` starts and provisions from
//! `template.yaml`; without it they fail loudly, never skip.

pub mod conformance;
pub mod counting;
pub mod fixtures;
pub mod http_client;
pub mod in_process;
pub mod lambda_events;
pub mod measure;

/// Runs each named test body — an `async fn(Fixture)` of the calling file — on both backends,
/// as `embedded::<name>` and `aws::<name>`. Without the emulator the `aws` half fails, naming
/// `./scripts/test` (see [`fixtures::require_emulator`]); it never skips.
///
/// ```ignore
/// warden_tests::on_both_backends!(first_case, second_case);
/// // presigned links need a server: embedded fixtures that one can serve
/// warden_tests::on_both_backends!(embedded = warden_tests::fixtures::embedded_linked().await; a_case);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    (embedded = $embedded:expr; $($case:ident),* $(,)?) => {
        mod embedded {
            $crate::on_backend!($embedded; $($case),*);
        }
        mod aws {
            $crate::on_backend!($crate::fixtures::aws().await; $($case),*);
        }
    };
    ($($case:ident),* $(,)?) => {
        $crate::on_both_backends!(embedded = $crate::fixtures::embedded(); $($case),*);
    };
}

/// One backend's half of [`on_both_backends!`]: a multi-threaded tokio test per case, calling
/// `super::<case>(fixture)`.
#[macro_export]
macro_rules! on_backend {
    ($fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case($fixture).await;
            }
        )*
    };
}
