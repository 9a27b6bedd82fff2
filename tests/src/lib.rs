//! Test harness: fixtures for both backends of every port, the conformance suites run on each
//! (object_store's pattern: one set of test functions, instantiated per adapter by a macro), and
//! a minimal HTTP/1.1 client for loopback servers.
//!
//! The AWS fixtures need the emulator that `scripts/test` starts and provisions from
//! `template.yaml`; without it they fail loudly, never skip.

pub mod accounts;
pub mod api;
pub mod authenticator;
pub mod conformance;
pub mod contention;
pub mod counting;
pub mod fixtures;
pub mod http_client;
pub mod iam;
pub mod in_process;
pub mod lambda_events;
pub mod measure;
pub mod totp;
pub mod work;
pub mod zip_reader;

/// Runs the futures concurrently on the current task (they may borrow) and returns their
/// outputs in order: for tests that fire requests at once.
pub async fn join_all<'a, T>(
    futures: impl IntoIterator<Item = impl std::future::Future<Output = T> + 'a>,
) -> Vec<T> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (f, out) in pending.iter_mut().zip(done.iter_mut()) {
            if out.is_none()
                && let std::task::Poll::Ready(v) = f.as_mut().poll(cx)
            {
                *out = Some(v);
            }
        }
        if done.iter().all(Option::is_some) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}

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
