//! The audit log on both backends: concurrent appends from two processes keep one intact
//! chain; modification, deletion, reordering, truncation and a recomputed chain are each named by
//! `verify`; a shredded user key leaves the chain verifiable; log injection stays one entry; an
//! event and the writes recorded with it land together or not at all.

use std::sync::Arc;

use serde_json::json;
use warden_core::audit::{AuditLog, EventType, Problem, RequestMeta};
use warden_core::crypto::user_keys::UserKeys;
use warden_core::services::{AppState, Services};
use warden_core::table::{Condition, Item, Table, TxOp};
use warden_tests::fixtures::{Fixture, test_config, unique};

async fn state(f: &Fixture) -> AppState {
    Services::new(test_config(), f.backends.clone())
        .await
        .unwrap()
}

/// A second "process": its own AuditLog over the same table and chain.
fn log(s: &AppState, chain: &str) -> AuditLog {
    s.new_audit_log().in_partition(chain)
}

fn meta() -> RequestMeta {
    RequestMeta {
        request_id: "req-1".into(),
        ip: Some("198.51.100.7".parse().unwrap()),
        user_agent: Some("Mozilla/5.0 test".into()),
    }
}

async fn append(l: &AuditLog, n: usize) {
    for i in 0..n {
        l.record(&meta(), EventType::LoginFailed, None, json!({ "i": i }))
            .await
            .unwrap();
    }
}

async fn concurrent_events_from_two_processes_make_one_intact_chain(f: Fixture) {
    let s = state(&f).await;
    let chain = unique("AUDIT-T-");
    let (a, b) = (Arc::new(log(&s, &chain)), Arc::new(log(&s, &chain)));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            l.record(&meta(), EventType::LoginFailed, None, json!({ "i": i }))
                .await
                .unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=200).collect::<Vec<u64>>(),
        "every event got its own position"
    );
    let report = a.verify().await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(
        (report.entries, report.first, report.last),
        (200, Some(1), Some(200))
    );
}

async fn tampering_is_named_by_verify(f: Fixture) {
    let s = state(&f).await;
    let t: &dyn Table = s.backends.table.as_ref();
    // Each case on its own chain of 10 entries.
    let fresh = || async {
        let l = log(&s, &unique("AUDIT-T-"));
        append(&l, 10).await;
        assert_eq!(l.verify().await.unwrap().problem, None);
        l
    };
    let l = fresh().await;
    let mut e = t.get(&l.entry_key(4)).await.unwrap().unwrap();
    e.set("details", r#"{"i":999}"#);
    t.put(e, None).await.unwrap();
    assert_eq!(
        l.verify().await.unwrap().problem,
        Some(Problem::Modified { seq: 4 })
    );

    let l = fresh().await;
    t.delete(&l.entry_key(5), None).await.unwrap();
    assert_eq!(
        l.verify().await.unwrap().problem,
        Some(Problem::Deleted { seq: 5 })
    );

    let l = fresh().await;
    let (k6, k7) = (l.entry_key(6), l.entry_key(7));
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
        l.verify().await.unwrap().problem,
        Some(Problem::Reordered { seq: 6 })
    );

    let l = fresh().await;
    t.delete(&l.entry_key(10), None).await.unwrap();
    t.delete(&l.entry_key(9), None).await.unwrap();
    assert_eq!(
        l.verify().await.unwrap().problem,
        Some(Problem::Truncated { after: 8 })
    );

    // An attacker who rewrites an entry and recomputes every later hash and the head still
    // cannot sign the head.
    let l = fresh().await;
    let mut prev = t
        .get(&l.entry_key(3))
        .await
        .unwrap()
        .unwrap()
        .b("hash")
        .unwrap()
        .to_vec();
    for seq in 4..=10 {
        let mut e = t.get(&l.entry_key(seq)).await.unwrap().unwrap();
        if seq == 4 {
            e.set("details", r#"{"i":999}"#);
        }
        e.set("prev", prev.clone());
        let entry = warden_core::audit::AuditEntry::from_item(&e)
            .unwrap()
            .computed_hash();
        e.set("hash", entry.clone());
        t.put(e, None).await.unwrap();
        prev = entry;
    }
    let mut head = t.get(&l.head_key()).await.unwrap().unwrap();
    head.set("hash", prev);
    t.put(head, None).await.unwrap();
    assert_eq!(
        l.verify().await.unwrap().problem,
        Some(Problem::ForgedSignature { seq: 10 })
    );
}

async fn a_shredded_user_key_hides_personal_data_and_the_chain_still_verifies(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-T-"));
    let user = unique("");
    let (op, _) = s.user_keys.create(&user).await.unwrap();
    s.backends.table.transact(vec![op]).await.unwrap();
    l.record(&meta(), EventType::LoginSucceeded, Some(&user), json!({}))
        .await
        .unwrap();
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
            .get(&l.entry_key(1))
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
        warden_core::address::AddressTags::new(s.server_keys.ip_tag.clone(), s.config.ipv6_prefix),
        s.config.audit_retention,
    );
    assert!(matches!(
        l2.open_personal(&entries[0]).await,
        Err(warden_core::Error::Decryption)
    ));
    assert_eq!(l.verify().await.unwrap().problem, None);
}

async fn injected_newlines_and_json_stay_one_escaped_entry(f: Fixture) {
    let s = state(&f).await;
    let l = log(&s, &unique("AUDIT-T-"));
    let evil = "mallory\n{\"event\":\"login_succeeded\",\"user_id\":\"admin\"}\r\n";
    l.record(
        &meta(),
        EventType::LoginFailed,
        None,
        json!({ "name": evil }),
    )
    .await
    .unwrap();
    let entries = l.since(0, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].event, "login_failed");
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(details["name"], evil);
    assert!(!entries[0].details.contains('\n'));
    assert_eq!(l.verify().await.unwrap().problem, None);
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
    l.record_with(
        &meta(),
        EventType::LoginSucceeded,
        None,
        json!({}),
        vec![put("a", None), put("b", Some(Condition::NotExists))],
    )
    .await
    .unwrap();
    assert!(table.get(&key("a")).await.unwrap().is_some());
    assert!(table.get(&key("b")).await.unwrap().is_some());
    // A write whose condition fails: nothing lands, the error names its position among the
    // caller's writes, and the chain has no entry for it.
    let refused = l
        .record_with(
            &meta(),
            EventType::LoginSucceeded,
            None,
            json!({}),
            vec![put("c", None), put("b", Some(Condition::NotExists))],
        )
        .await;
    assert!(
        matches!(&refused, Err(warden_core::Error::TransactionCancelled { failed }) if failed == &vec![1]),
        "{refused:?}"
    );
    assert!(table.get(&key("c")).await.unwrap().is_none());
    assert_eq!(l.since(0, 10).await.unwrap().len(), 1);
    // The chain goes on from there.
    append(&l, 1).await;
    assert_eq!(l.since(0, 10).await.unwrap().len(), 2);
    assert_eq!(l.verify().await.unwrap().problem, None);
}

warden_tests::on_both_backends!(
    concurrent_events_from_two_processes_make_one_intact_chain,
    tampering_is_named_by_verify,
    a_shredded_user_key_hides_personal_data_and_the_chain_still_verifies,
    an_event_and_the_writes_it_records_land_together_or_not_at_all,
    injected_newlines_and_json_stay_one_escaped_entry,
);
