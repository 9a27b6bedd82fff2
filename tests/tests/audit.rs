//! The audit log on both backends: concurrent appends from two processes keep every shard's
//! chain intact and each user's events in one shard; modification, deletion, reordering,
//! truncation and a recomputed chain are each named by `verify`; with signed digests, deleting
//! the start of a shard, deleting what a digest covers, and forging or removing a digest are
//! named too, while entries that expired by retention are not; a raised shard count applies
//! from its announced time and leaves earlier accounts where they were; a shredded user key
//! leaves the chain verifiable; log injection stays one entry; an event and the writes
//! recorded with it land together or not at all.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use warden_core::audit::digest::{self, SignedDigest};
use warden_core::audit::{AuditLog, EntryId, EventType, Problem, RequestMeta, VerifyReport};
use warden_core::crypto::user_keys::UserKeys;
use warden_core::services::{AppState, Services};
use warden_core::table::UnitOfWork;
use warden_core::table::{Condition, Item, Table, TxOp};
use warden_tests::fixtures::{Fixture, test_config, unique};

async fn state(f: &Fixture) -> AppState {
    Services::new(test_config(), f.backends.clone())
        .await
        .unwrap()
}

/// A second "process": its own AuditLog over the same table and log.
fn log(s: &AppState, namespace: &str) -> AuditLog {
    s.new_audit_log().in_namespace(namespace)
}

fn meta() -> RequestMeta {
    RequestMeta {
        request_id: "req-1".into(),
        ip: Some("198.51.100.7".parse().unwrap()),
        user_agent: Some("Mozilla/5.0 test".into()),
    }
}

/// Appends `n` events without a user from one address: all in one shard, which is returned.
async fn append(l: &AuditLog, n: usize) -> u32 {
    let mut shard = 0;
    for i in 0..n {
        shard = l
            .record(&meta(), EventType::LoginFailed, None, json!({ "i": i }))
            .await
            .unwrap()
            .shard;
    }
    shard
}

/// Verification with the fixture's digest key and store.
async fn verify(f: &Fixture, l: &AuditLog) -> VerifyReport {
    let key = f
        .backends
        .digest_signer
        .as_ref()
        .expect("a digest key")
        .public_key()
        .await
        .unwrap();
    warden_core::audit::verify::verify(l, Some(&key), f.backends.digest_store.as_deref())
        .await
        .unwrap()
}

async fn write_digest(f: &Fixture, l: &AuditLog) -> SignedDigest {
    digest::write(
        l,
        f.backends.digest_signer.as_deref().expect("a digest key"),
        f.backends.digest_store.as_deref().expect("a digest store"),
    )
    .await
    .unwrap()
    .expect("no other writer")
}

async fn concurrent_events_from_two_processes_make_one_intact_chain_per_shard(f: Fixture) {
    let s = state(&f).await;
    let ns = unique("AUDIT-T-");
    let (a, b) = (Arc::new(log(&s, &ns)), Arc::new(log(&s, &ns)));
    let users: Vec<String> = (0..8).map(|_| unique("user-")).collect();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        let user = users[i % users.len()].clone();
        tasks.push(tokio::spawn(async move {
            let id = l
                .record(
                    &meta(),
                    EventType::LoginFailed,
                    Some(&user),
                    json!({ "i": i }),
                )
                .await
                .unwrap();
            (user, id)
        }));
    }
    let mut placed: std::collections::BTreeMap<String, Vec<EntryId>> = Default::default();
    for t in tasks {
        let (user, id) = t.await.unwrap();
        placed.entry(user).or_default().push(id);
    }
    // Each user's events went to one shard; every position in each shard was used once.
    let mut by_shard: std::collections::BTreeMap<u32, Vec<u64>> = Default::default();
    for ids in placed.values() {
        assert!(ids.iter().all(|id| id.shard == ids[0].shard), "{ids:?}");
        for id in ids {
            by_shard.entry(id.shard).or_default().push(id.seq);
        }
    }
    assert!(by_shard.len() > 1, "eight users spread over several shards");
    for seqs in by_shard.values_mut() {
        seqs.sort();
        assert_eq!(*seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    }
    let report = verify(&f, &a).await;
    assert_eq!(report.problem, None);
    assert_eq!(report.entries(), 200);
    // A user's own events read back in order.
    let mine = a.for_user(&users[3]).await.unwrap();
    assert_eq!(mine.len(), 25);
    assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
}

async fn tampering_is_named_by_verify(f: Fixture) {
    let s = state(&f).await;
    let t: &dyn Table = s.backends.table.as_ref();
    // Each case on its own log of 10 entries in one shard.
    let fresh = || async {
        let l = log(&s, &unique("AUDIT-T-"));
        let shard = append(&l, 10).await;
        assert_eq!(verify(&f, &l).await.problem, None);
        (l, shard)
    };
    let (l, sh) = fresh().await;
    let mut e = t.get(&l.entry_key(sh, 4)).await.unwrap().unwrap();
    e.set("details", r#"{"i":999}"#);
    t.put(e, None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Modified { shard: sh, seq: 4 })
    );

    let (l, sh) = fresh().await;
    t.delete(&l.entry_key(sh, 5), None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Deleted { shard: sh, seq: 5 })
    );

    let (l, sh) = fresh().await;
    let (k6, k7) = (l.entry_key(sh, 6), l.entry_key(sh, 7));
    let (mut e6, mut e7) = (
        t.get(&k6).await.unwrap().unwrap(),
        t.get(&k7).await.unwrap().unwrap(),
    );
    let swap = |e: &mut Item, k: &warden_core::table::Key| {
        e.set("pk", k.pk.as_str());
        e.set("sk", k.sk.as_str());
    };
    swap(&mut e6, &k7);
    swap(&mut e7, &k6);
    t.put(e6, None).await.unwrap();
    t.put(e7, None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Reordered { shard: sh, seq: 6 })
    );

    let (l, sh) = fresh().await;
    t.delete(&l.entry_key(sh, 10), None).await.unwrap();
    t.delete(&l.entry_key(sh, 9), None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Truncated {
            shard: sh,
            after: 8
        })
    );

    // An attacker who rewrites an entry and recomputes every later hash and the head still
    // cannot sign the head without the server secret.
    let (l, sh) = fresh().await;
    let prev = recompute_from(t, &l, sh, 4, 10, |e| e.set("details", r#"{"i":999}"#)).await;
    let mut head = t.get(&l.head_key(sh)).await.unwrap().unwrap();
    head.set("hash", prev);
    t.put(head, None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::ForgedHead { shard: sh })
    );
}

/// Rewrites entries `from..=to` of a shard with `change` applied to the first, recomputing every
/// later link and hash (what someone who can write the table can do). Returns the last hash.
async fn recompute_from(
    t: &dyn Table,
    l: &AuditLog,
    shard: u32,
    from: u64,
    to: u64,
    change: impl Fn(&mut Item),
) -> Vec<u8> {
    let mut prev = entry_hash(t, l, shard, from - 1).await;
    for seq in from..=to {
        let mut e = t.get(&l.entry_key(shard, seq)).await.unwrap().unwrap();
        if seq == from {
            change(&mut e);
        }
        e.set("prev", prev.clone());
        let hash = warden_core::audit::AuditEntry::from_item(&e)
            .unwrap()
            .computed_hash();
        e.set("hash", hash.clone());
        t.put(e, None).await.unwrap();
        prev = hash;
    }
    prev
}

/// The stored hash of entry `seq` of `shard`.
async fn entry_hash(t: &dyn Table, l: &AuditLog, shard: u32, seq: u64) -> Vec<u8> {
    t.get(&l.entry_key(shard, seq))
        .await
        .unwrap()
        .unwrap()
        .b("hash")
        .unwrap()
        .to_vec()
}

/// What someone holding the server secret (every function's role can unwrap it) can do to a
/// shard's head: point it at `seq` and sign it.
async fn resign_head(s: &AppState, l: &AuditLog, shard: u32, seq: u64) {
    let t = s.backends.table.as_ref();
    let hash = entry_hash(t, l, shard, seq).await;
    let mut message = Vec::new();
    for p in [
        b"audit-head-v2".as_slice(),
        &shard.to_be_bytes(),
        &seq.to_be_bytes(),
        &hash,
    ] {
        message.extend_from_slice(&(p.len() as u32).to_be_bytes());
        message.extend_from_slice(p);
    }
    let sig = aws_lc_rs::hmac::sign(&s.server_keys.audit_signing, &message);
    let mut head = t.get(&l.head_key(shard)).await.unwrap().unwrap();
    head.set("seq", seq as i64);
    head.set("hash", hash);
    head.set("sig", sig.as_ref().to_vec());
    t.put(head, None).await.unwrap();
}

async fn digests_show_what_the_chain_alone_cannot(f: Fixture) {
    let s = state(&f).await;
    let t: &dyn Table = s.backends.table.as_ref();
    let store = f.backends.digest_store.clone().expect("a digest store");

    // Deleting the start of a shard: the chain alone reads intact, the digest's low-water mark
    // says entry 1 must exist.
    let l = log(&s, &unique("AUDIT-D-"));
    let sh = append(&l, 6).await;
    let d = write_digest(&f, &l).await;
    assert_eq!(
        (d.digest.number, d.digest.shard(sh).unwrap().low_water),
        (1, 1)
    );
    assert_eq!(verify(&f, &l).await.problem, None);
    for seq in 1..=3 {
        t.delete(&l.entry_key(sh, seq), None).await.unwrap();
    }
    let unanchored = warden_core::audit::verify::verify(&log(&s, l.namespace()), None, None).await;
    assert!(unanchored.is_err(), "digests present need the key");
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Deleted { shard: sh, seq: 1 })
    );

    // Deleting entries a digest covers, with the head re-signed by the server secret.
    let l = log(&s, &unique("AUDIT-D-"));
    let sh = append(&l, 6).await;
    write_digest(&f, &l).await;
    append(&l, 2).await;
    for seq in 5..=8 {
        t.delete(&l.entry_key(sh, seq), None).await.unwrap();
    }
    resign_head(&s, &l, sh, 4).await;
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Truncated {
            shard: sh,
            after: 4
        })
    );

    // Rewriting a digested entry and everything after it, head re-signed.
    let l = log(&s, &unique("AUDIT-D-"));
    let sh = append(&l, 6).await;
    write_digest(&f, &l).await;
    recompute_from(t, &l, sh, 2, 6, |e| e.set("details", r#"{"i":999}"#)).await;
    resign_head(&s, &l, sh, 6).await;
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Modified { shard: sh, seq: 6 })
    );

    // Forging a digest with the server secret (in the table and the store) to cover the cut.
    let l = log(&s, &unique("AUDIT-D-"));
    let sh = append(&l, 6).await;
    let d = write_digest(&f, &l).await;
    for seq in 4..=6 {
        t.delete(&l.entry_key(sh, seq), None).await.unwrap();
    }
    resign_head(&s, &l, sh, 3).await;
    let mut body = d.digest.clone();
    let head = t.get(&l.head_key(sh)).await.unwrap().unwrap();
    for m in body.shards.iter_mut().filter(|m| m.shard == sh) {
        m.head_seq = 3;
        m.head_hash = warden_core::crypto::hex(head.b("hash").unwrap());
    }
    let body = serde_json::to_string(&body).unwrap();
    let forged = SignedDigest {
        signature: aws_lc_rs::hmac::sign(&s.server_keys.audit_signing, body.as_bytes())
            .as_ref()
            .to_vec(),
        digest: serde_json::from_str(&body).unwrap(),
        body,
    };
    let key = digest::key(l.namespace(), 1);
    let mut item = t.get(&key).await.unwrap().unwrap();
    item.set("body", forged.body.as_str());
    item.set("sig", forged.signature.clone());
    t.put(item, None).await.unwrap();
    store
        .put(
            &digest::object_key(l.namespace(), 1),
            Box::new(std::io::Cursor::new(forged.to_object())),
            "application/json",
        )
        .await
        .unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::ForgedDigest { number: 1 })
    );

    // Removing the newest digests from the table: the store still has them.
    let with_three_digests = || async {
        let l = log(&s, &unique("AUDIT-D-"));
        append(&l, 2).await;
        for _ in 0..3 {
            write_digest(&f, &l).await;
        }
        l
    };
    let l = with_three_digests().await;
    t.delete(&digest::key(l.namespace(), 3), None)
        .await
        .unwrap();
    t.delete(&digest::key(l.namespace(), 2), None)
        .await
        .unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::DigestMissing { number: 2 })
    );
    // … and a digest removed from the middle breaks the numbering.
    let l = with_three_digests().await;
    t.delete(&digest::key(l.namespace(), 2), None)
        .await
        .unwrap();
    assert_eq!(
        warden_core::audit::verify::verify(
            &l,
            Some(
                &f.backends
                    .digest_signer
                    .as_ref()
                    .unwrap()
                    .public_key()
                    .await
                    .unwrap()
            ),
            None
        )
        .await
        .unwrap()
        .problem,
        Some(Problem::DigestMissing { number: 2 })
    );
}

/// Scans that write a digest at the same time, and one that stopped between the table and the
/// digest store: the digests stay one chain, and the next run finishes the store's copy.
async fn overlapping_and_interrupted_digest_writes_leave_one_chain(f: Fixture) {
    use warden_tests::counting::{CountingBlobs, Probe};
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-O-"));
    append(&l, 3).await;
    let signer = f.backends.digest_signer.as_deref().expect("a digest key");
    let store = f.backends.digest_store.clone().expect("a digest store");
    let (a, b, c) = (
        log(&s, l.namespace()),
        log(&s, l.namespace()),
        log(&s, l.namespace()),
    );
    let written = tokio::join!(
        digest::write(&a, signer, store.as_ref()),
        digest::write(&b, signer, store.as_ref()),
        digest::write(&c, signer, store.as_ref()),
    );
    let mut numbers: Vec<u64> = [written.0, written.1, written.2]
        .into_iter()
        .filter_map(|r| r.unwrap().map(|d| d.digest.number))
        .collect();
    numbers.sort();
    assert!(!numbers.is_empty());
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "no number twice"
    );
    assert_eq!(verify(&f, &l).await.problem, None);

    // The store refuses the next digest after the table took it (its previous is read first).
    let probe = Probe::new();
    let failing = CountingBlobs::with_probe(store.clone(), probe.clone());
    probe.fail_call(2);
    assert!(digest::write(&l, signer, &failing).await.is_err());
    assert!(probe.fault_fired());
    // The newest digest may lag in the store: that is not tampering.
    assert_eq!(verify(&f, &l).await.problem, None);
    let next = write_digest(&f, &l).await;
    let finished = digest::object_key(l.namespace(), next.digest.number - 1);
    assert!(
        store.get(&finished).await.unwrap().is_some(),
        "the next run wrote it"
    );
    assert_eq!(verify(&f, &l).await.problem, None);
}

async fn entries_past_retention_are_absent_without_reading_as_tampering(f: Fixture) {
    let s = state(&f).await;
    let t: &dyn Table = s.backends.table.as_ref();
    let l = log(&s, &unique("AUDIT-R-"));
    let day = Duration::from_secs(86_400);
    // One user's events: one shard whatever the day (an address's move with its daily tag).
    let user = unique("user-");
    let events = |n: usize| {
        let (l, user) = (&l, user.clone());
        async move {
            let mut shard = 0;
            for _ in 0..n {
                shard = l
                    .record(&meta(), EventType::LoginFailed, Some(&user), json!({}))
                    .await
                    .unwrap()
                    .shard;
            }
            shard
        }
    };
    // Digest 1 over entries 1..=5, digest 2 a day later over 6..=8, digest 3 over 9..=10.
    let sh = events(5).await;
    write_digest(&f, &l).await;
    f.clock.advance(day);
    events(3).await;
    write_digest(&f, &l).await;
    f.clock.advance(day);
    events(2).await;
    write_digest(&f, &l).await;
    // Past the retention of the first five: they expire, and that is retention.
    f.clock
        .advance(l.retention() - 2 * day + Duration::from_secs(2 * 3600));
    let report = verify(&f, &l).await;
    assert_eq!(report.problem, None, "{report:?}");
    let shard = &report.shards[sh as usize];
    assert_eq!(
        (shard.first, shard.low_water, shard.digested),
        (Some(6), 9, 10)
    );
    // Above the mark absence is tampering.
    t.delete(&l.entry_key(sh, 9), None).await.unwrap();
    assert_eq!(
        verify(&f, &l).await.problem,
        Some(Problem::Deleted { shard: sh, seq: 9 })
    );
    // The next digest carries the mark forward.
    let l = log(&s, l.namespace());
    let d = write_digest(&f, &l).await;
    assert_eq!(d.digest.shard(sh).unwrap().low_water, 9);

    // A shard whose every entry expired keeps its head: that is retention too.
    let l = log(&s, &unique("AUDIT-R-"));
    let sh = append(&l, 2).await;
    write_digest(&f, &l).await;
    f.clock.advance(l.retention() + 2 * day);
    let d = write_digest(&f, &l).await;
    assert_eq!(d.digest.shard(sh).unwrap().low_water, 3);
    let report = verify(&f, &l).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(report.shards[sh as usize].entries, 0);
}

async fn a_raised_shard_count_applies_from_its_start_and_accounts_keep_their_shard(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-L-"));
    assert_eq!(l.layout().await.unwrap().shards(), 16);
    let before = "created-before-the-raise";
    let first = l.shard_for_new_user(before).await.unwrap();
    let id = l
        .record(&meta(), EventType::UserRegistered, Some(before), json!({}))
        .await
        .unwrap();
    assert_eq!(id.shard, first);
    let g = l.raise_shards(64).await.unwrap();
    assert!(g.from_ms > f.clock_now().millis(), "announced ahead");
    assert!(matches!(
        l.raise_shards(128).await,
        Err(warden_core::Error::Conflict(_))
    ));
    // Another process (a fresh log view) agrees, and until the start nothing moves.
    let other = log(&s, l.namespace());
    assert_eq!(other.layout().await.unwrap().shards(), 64);
    f.clock.advance(Duration::from_secs(11 * 60));
    // The earlier account's events still go to its shard (recorded on its profile; here, with
    // no profile, where its last entry went).
    let id = other
        .record(&meta(), EventType::LoginSucceeded, Some(before), json!({}))
        .await
        .unwrap();
    assert_eq!(id.shard, first);
    // New placements use all 64.
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..400 {
        seen.insert(other.shard_for_new_user(&format!("new-{i}")).await.unwrap());
    }
    assert!(seen.iter().any(|s| *s >= 16), "{seen:?}");
    assert!(matches!(
        other.raise_shards(32).await,
        Err(warden_core::Error::BadRequest { .. })
    ));
    assert_eq!(verify(&f, &other).await.problem, None);
}

async fn a_shredded_user_key_hides_personal_data_and_the_chain_still_verifies(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-T-"));
    let user = unique("");
    let (op, _) = s.user_keys.create(&user).await.unwrap();
    s.backends.table.transact(vec![op]).await.unwrap();
    let shard = l
        .record(&meta(), EventType::LoginSucceeded, Some(&user), json!({}))
        .await
        .unwrap()
        .shard;
    append(&l, 3).await;
    let entries = l.for_user(&user).await.unwrap();
    assert_eq!(entries.len(), 1);
    let p = l.open_personal(&entries[0]).await.unwrap();
    assert_eq!(p.ip.as_deref(), Some("198.51.100.7"));
    // Nothing personal is stored in clear.
    let raw = format!(
        "{:?}",
        s.backends
            .table
            .get(&l.entry_key(shard, 1))
            .await
            .unwrap()
            .unwrap()
    );
    assert!(!raw.contains("198.51.100.7") && !raw.contains("Mozilla"));
    s.user_keys.shred(&user).await.unwrap();
    let fresh_keys = UserKeys::new(
        s.backends.table.clone(),
        s.backends.keys.clone(),
        s.backends.clock.clone(),
    );
    let l2 = AuditLog::new(
        s.backends.table.clone(),
        s.backends.keys.clone(),
        Arc::new(fresh_keys),
        s.backends.clock.clone(),
        s.server_keys.audit_signing.clone(),
        s.address_tags.clone(),
        s.config.audit_retention,
    );
    assert!(matches!(
        l2.open_personal(&entries[0]).await,
        Err(warden_core::Error::Decryption)
    ));
    assert_eq!(verify(&f, &l).await.problem, None);
}

async fn injected_newlines_and_json_stay_one_escaped_entry(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-T-"));
    let evil = "mallory\n{\"event\":\"login_succeeded\",\"user_id\":\"admin\"}\r\n";
    let id = l
        .record(
            &meta(),
            EventType::LoginFailed,
            None,
            json!({ "name": evil }),
        )
        .await
        .unwrap();
    let entries = l.since(id.shard, 0, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event, "login_failed");
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(details["name"], evil);
    assert!(!entries[0].details.contains('\n'));
    assert_eq!(verify(&f, &l).await.problem, None);
}

async fn an_event_and_the_writes_it_records_land_together_or_not_at_all(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-W-"));
    let table = s.backends.table.as_ref();
    let part = unique("W#");
    let key = |n: &str| warden_core::table::Key::new(part.clone(), n.to_string());
    let put = |n: &str, condition| TxOp::Put {
        item: Item::new(&key(n)).with("v", 1),
        condition,
    };
    // Both writes land with the entry.
    let shard = l
        .commit(
            UnitOfWork::from(vec![put("a", None), put("b", Some(Condition::NotExists))]),
            &meta(),
            EventType::LoginSucceeded,
            None,
            json!({}),
        )
        .await
        .unwrap()
        .shard;
    assert!(table.get(&key("a")).await.unwrap().is_some());
    assert!(table.get(&key("b")).await.unwrap().is_some());
    // A write whose condition fails: nothing lands, the error names its position among the
    // caller's writes, and the chain has no entry for it.
    let refused = l
        .commit(
            UnitOfWork::from(vec![put("c", None), put("b", Some(Condition::NotExists))]),
            &meta(),
            EventType::LoginSucceeded,
            None,
            json!({}),
        )
        .await;
    assert!(
        matches!(&refused, Err(warden_core::Error::TransactionCancelled { failed, .. }) if failed == &vec![1]),
        "{refused:?}"
    );
    assert!(table.get(&key("c")).await.unwrap().is_none());
    assert_eq!(l.since(shard, 0, 10).await.unwrap().len(), 1);
    // The chain goes on from there.
    append(&l, 1).await;
    assert_eq!(l.since(shard, 0, 10).await.unwrap().len(), 2);
    assert_eq!(verify(&f, &l).await.problem, None);
}

/// `GET /.well-known/audit-digest-key` serves the key that verifies the scan's digests; no
/// key of the token JWKS verifies them (the two are apart, so neither can stand in for the other).
async fn the_digest_key_is_published_apart_from_the_token_keys(f: Fixture) {
    use base64::Engine;
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-K-"));
    append(&l, 1).await;
    let d = write_digest(&f, &l).await;
    let api = warden_tests::api::Api::new(&f, test_config()).await;
    let ip = warden_tests::http_client::unique_loopback();
    let r = api
        .call(ip, "GET", "/.well-known/audit-digest-key", &[], None)
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["algorithm"], "RSASSA_PKCS1_V1_5_SHA_256");
    let pem = body["public_key_pem"].as_str().unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = warden_core::digest_signer::DigestPublicKey {
        key_id: body["key_id"].as_str().unwrap().to_string(),
        der: base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    };
    assert_eq!(key.key_id, d.digest.key_id);
    assert!(key.verifies(d.body.as_bytes(), &d.signature));
    let jwks = api
        .call(ip, "GET", "/.well-known/jwks.json", &[], None)
        .await
        .json();
    let b64url = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    for k in jwks["keys"].as_array().unwrap() {
        let token_key = aws_lc_rs::signature::RsaPublicKeyComponents {
            n: b64url(&k["n"]),
            e: b64url(&k["e"]),
        };
        assert!(
            token_key
                .verify(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    d.body.as_bytes(),
                    &d.signature
                )
                .is_err(),
            "a token key verifies a digest"
        );
    }
}

warden_tests::on_both_backends!(
    the_digest_key_is_published_apart_from_the_token_keys,
    concurrent_events_from_two_processes_make_one_intact_chain_per_shard,
    tampering_is_named_by_verify,
    digests_show_what_the_chain_alone_cannot,
    entries_past_retention_are_absent_without_reading_as_tampering,
    overlapping_and_interrupted_digest_writes_leave_one_chain,
    a_raised_shard_count_applies_from_its_start_and_accounts_keep_their_shard,
    a_shredded_user_key_hides_personal_data_and_the_chain_still_verifies,
    an_event_and_the_writes_it_records_land_together_or_not_at_all,
    injected_newlines_and_json_stay_one_escaped_entry,
);
