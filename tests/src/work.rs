//! What one request cost — Argon2 hashes, table calls, key-service calls, messages to its
//! address — for the tests that pin "the same answer and the same work whatever the address"
//! (registration, a forgotten password): a difference in work is a difference in time, and time
//! tells an attacker which addresses have accounts.

use std::future::Future;
use std::sync::Arc;

use warden_core::backends::Backends;
use warden_core::config::Config;
use warden_core::services::Services;

use crate::api::Api;
use crate::counting::{CountingKeys, CountingTable};
use crate::fixtures::{Fixture, serve};
use crate::http_client::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    pub hashes: u64,
    pub table_calls: u64,
    pub key_calls: u64,
    pub messages: usize,
}

/// A router on the fixture's backends whose table and key service are counted, writing its
/// audit events to a chain of its own (the emulator's table is shared: another test's append
/// would make this one's re-read the head, a call that is not the request's own).
pub struct Counted {
    pub api: Api,
    pub state: warden_core::services::AppState,
    table: Arc<CountingTable>,
    keys: Arc<CountingKeys>,
}

impl Counted {
    pub async fn new(f: &Fixture, config: Config) -> Counted {
        let table = Arc::new(CountingTable::new(f.backends.table.clone()));
        let keys = Arc::new(CountingKeys::new(f.backends.keys.clone()));
        let backends = Backends {
            table: table.clone(),
            keys: keys.clone(),
            ..f.backends.clone()
        };
        let state = Services::new(config, backends).await.unwrap();
        let mut own = Arc::try_unwrap(state).ok().expect("sole owner");
        own.audit = own
            .new_audit_log()
            .in_namespace(&crate::fixtures::unique("AUDIT-W-"));
        let state = Arc::new(own);
        let api = Api::on(serve(state.clone(), f).await, f);
        Counted {
            api,
            state,
            table,
            keys,
        }
    }

    /// Runs `request` (a request concerning `email`) and measures it.
    pub async fn work(
        &self,
        email: &str,
        request: impl Future<Output = Response>,
    ) -> (Response, Work) {
        let mail = self.api.mailbox.to(email).await.len();
        let (h, t, k) = (
            self.state.passwords.hashes(),
            self.table.calls(),
            self.keys.calls(),
        );
        let r = request.await;
        let work = Work {
            hashes: self.state.passwords.hashes() - h,
            table_calls: self.table.calls() - t,
            key_calls: self.keys.calls() - k,
            messages: self.api.mailbox.to(email).await.len() - mail,
        };
        (r, work)
    }

    /// Runs each of two kinds of request `tries` times (`request(kind)` gives the address and
    /// the request) and returns every answer and each kind's least work, counter by counter: a
    /// process's first use of a cached key (the audit's system key) costs a call the next
    /// request does not make.
    pub async fn least_work<F, Fut>(
        &self,
        tries: usize,
        mut request: F,
    ) -> (Vec<Response>, [Work; 2])
    where
        F: FnMut(usize) -> (String, Fut),
        Fut: Future<Output = Response>,
    {
        let mut least: [Option<Work>; 2] = [None, None];
        let mut answers = Vec::new();
        for _ in 0..tries {
            for (kind, slot) in least.iter_mut().enumerate() {
                let (email, fut) = request(kind);
                let (r, work) = self.work(&email, fut).await;
                answers.push(r);
                *slot = Some(match *slot {
                    Some(w) => Work {
                        hashes: w.hashes.min(work.hashes),
                        table_calls: w.table_calls.min(work.table_calls),
                        key_calls: w.key_calls.min(work.key_calls),
                        messages: w.messages.min(work.messages),
                    },
                    None => work,
                });
            }
        }
        (answers, least.map(|w| w.expect("at least one try")))
    }
}
