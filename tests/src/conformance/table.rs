//! `Table` conformance cases.

use std::sync::Arc;
use std::time::Duration;

use warden_core::Error;
use warden_core::clock::Clock;
use warden_core::table::schema::{self, GSI1};
use warden_core::table::{
    Condition, Item, Key, Query, SortKey, Table, TxOp, Update, Value, first_live, query_all,
};

use crate::fixtures::{Fixture, unique};

fn table(f: &Fixture) -> Arc<dyn Table> {
    f.backends.table.clone()
}

pub async fn put_then_get_round_trips_every_value_type(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    let mut m = std::collections::BTreeMap::new();
    m.insert("inner".to_string(), Value::N(-7));
    let item = Item::new(&key)
        .with("s", "text with \"quotes\" and \n newline")
        .with("n", i64::MAX)
        .with("b", vec![0u8, 255, 1])
        .with("t", true)
        .with("l", Value::L(vec![Value::S("a".into()), Value::N(1)]))
        .with("m", Value::M(m));
    t.put(item.clone(), None).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap(), Some(item));
    assert_eq!(t.get(&Key::new(unique("P#"), "S")).await.unwrap(), None);
}

pub async fn conditional_put_on_existing_key_fails(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    t.put(Item::new(&key).with("v", 1), Some(Condition::NotExists))
        .await
        .unwrap();
    let err = t
        .put(Item::new(&key).with("v", 2), Some(Condition::NotExists))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    assert_eq!(t.get(&key).await.unwrap().unwrap().n("v"), Some(1));
}

pub async fn update_conditioned_on_stale_version_fails(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    t.put(Item::new(&key).with("version", 1).with("x", "a"), None)
        .await
        .unwrap();
    let after = t
        .update(
            &key,
            Update::new()
                .set("x", "b")
                .add("version", 1)
                .when(Condition::eq("version", 1)),
        )
        .await
        .unwrap();
    assert_eq!(after.n("version"), Some(2));
    let err = t
        .update(
            &key,
            Update::new()
                .set("x", "c")
                .when(Condition::eq("version", 1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    assert_eq!(t.get(&key).await.unwrap().unwrap().s("x"), Some("b"));
}

pub async fn transaction_with_one_failing_condition_changes_nothing_and_names_it(f: Fixture) {
    let t = table(&f);
    let p = unique("P#");
    let (a, b, c) = (Key::new(&p, "A"), Key::new(&p, "B"), Key::new(&p, "C"));
    t.put(Item::new(&b).with("v", 1), None).await.unwrap();
    t.put(Item::new(&c).with("v", 1), None).await.unwrap();
    let err = t
        .transact(vec![
            TxOp::Put {
                item: Item::new(&a).with("v", 9),
                condition: Some(Condition::NotExists),
            },
            TxOp::Update {
                key: b.clone(),
                update: Update::new().set("v", 9).when(Condition::eq("v", 2)),
            },
            TxOp::Delete {
                key: c.clone(),
                condition: None,
            },
        ])
        .await
        .unwrap_err();
    // The failed operation reports the item its condition found, so a loser need not read it.
    match err {
        Error::TransactionCancelled { failed, current } => {
            assert_eq!(failed, vec![1]);
            assert_eq!(current.at(1).and_then(|i| i.n("v")), Some(1));
            assert!(current.at(0).is_none() && current.at(2).is_none());
            assert!(!format!("{current:?}").contains('v'), "items never print");
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(t.get(&a).await.unwrap(), None);
    assert_eq!(t.get(&b).await.unwrap().unwrap().n("v"), Some(1));
    assert!(t.get(&c).await.unwrap().is_some());
    // And the same transaction with the condition met applies every operation.
    t.transact(vec![
        TxOp::Put {
            item: Item::new(&a).with("v", 9),
            condition: Some(Condition::NotExists),
        },
        TxOp::Update {
            key: b.clone(),
            update: Update::new().set("v", 9).when(Condition::eq("v", 1)),
        },
        TxOp::Delete {
            key: c.clone(),
            condition: Some(Condition::Exists),
        },
    ])
    .await
    .unwrap();
    assert_eq!(t.get(&a).await.unwrap().unwrap().n("v"), Some(9));
    assert_eq!(t.get(&b).await.unwrap().unwrap().n("v"), Some(9));
    assert_eq!(t.get(&c).await.unwrap(), None);
}

pub async fn concurrent_conditional_increments_lose_no_update(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "COUNTER");
    t.put(Item::new(&key).with("count", 0), None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (t, key) = (t.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let seen = t.get(&key).await.unwrap().unwrap().n("count").unwrap();
                match t
                    .update(
                        &key,
                        Update::new()
                            .set("count", seen + 1)
                            .when(Condition::eq("count", seen)),
                    )
                    .await
                {
                    Ok(_) => return,
                    Err(Error::ConditionFailed) => tokio::task::yield_now().await,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t.get(&key).await.unwrap().unwrap().n("count"), Some(20));
}

pub async fn pagination_over_more_than_1mb_returns_every_item_once(f: Fixture) {
    let t = table(&f);
    let p = unique("P#");
    let filler = "x".repeat(4000);
    let n = 300; // ~1.2 MB
    for i in 0..n {
        t.put(
            Item::new(&Key::new(&p, format!("I#{i:04}"))).with("filler", filler.as_str()),
            None,
        )
        .await
        .unwrap();
    }
    let first = t.query(Query::partition(&p)).await.unwrap();
    assert!(first.next.is_some(), "a page must stop at 1 MB");
    assert!(first.items.len() < n);
    let all = query_all(t.as_ref(), Query::partition(&p)).await.unwrap();
    let sks: Vec<String> = all
        .iter()
        .map(|i| i.s(schema::SK).unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("I#{i:04}")).collect();
    assert_eq!(sks, expected);
}

pub async fn query_selects_sort_key_ranges_and_prefixes_in_both_directions(f: Fixture) {
    let t = table(&f);
    let p = unique("P#");
    for sk in ["A#1", "A#2", "A#3", "B#1", "B#2", "C"] {
        t.put(Item::new(&Key::new(&p, sk)), None).await.unwrap();
    }
    let sks = |items: Vec<Item>| -> Vec<String> {
        items
            .iter()
            .map(|i| i.s(schema::SK).unwrap().to_string())
            .collect()
    };
    let q = |s: SortKey| Query::partition(&p).sort(s);
    let got = sks(query_all(t.as_ref(), q(SortKey::BeginsWith("A#".into())))
        .await
        .unwrap());
    assert_eq!(got, ["A#1", "A#2", "A#3"]);
    let got = sks(
        query_all(t.as_ref(), q(SortKey::Between("A#2".into(), "B#1".into())))
            .await
            .unwrap(),
    );
    assert_eq!(got, ["A#2", "A#3", "B#1"]);
    let got = sks(query_all(t.as_ref(), q(SortKey::Gt("B#1".into())))
        .await
        .unwrap());
    assert_eq!(got, ["B#2", "C"]);
    let got = sks(query_all(t.as_ref(), q(SortKey::Le("A#2".into())))
        .await
        .unwrap());
    assert_eq!(got, ["A#1", "A#2"]);
    let got = sks(query_all(t.as_ref(), q(SortKey::Lt("A#2".into())))
        .await
        .unwrap());
    assert_eq!(got, ["A#1"]);
    let got = sks(query_all(t.as_ref(), q(SortKey::Ge("B#2".into())))
        .await
        .unwrap());
    assert_eq!(got, ["B#2", "C"]);
    let got = sks(query_all(t.as_ref(), q(SortKey::Eq("C".into())))
        .await
        .unwrap());
    assert_eq!(got, ["C"]);
    // Backward with a page limit of 2: every item once, in reverse.
    let got = sks(
        query_all(t.as_ref(), Query::partition(&p).backward().limit(2))
            .await
            .unwrap(),
    );
    assert_eq!(got, ["C", "B#2", "B#1", "A#3", "A#2", "A#1"]);
}

pub async fn secondary_index_query_pages_through_all_matches(f: Fixture) {
    let t = table(&f);
    let g = unique("G#");
    for i in 0..7 {
        let key = Key::new(unique("P#"), "S");
        t.put(
            Item::new(&key)
                .with(GSI1.pk, g.as_str())
                .with(GSI1.sk, format!("T#{i:02}"))
                .with("i", i),
            None,
        )
        .await
        .unwrap();
    }
    // One item without the index attributes is not in the index.
    t.put(
        Item::new(&Key::new(unique("P#"), "S")).with(GSI1.pk, g.as_str()),
        None,
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut q = Query::index(&GSI1, &g).limit(3);
    loop {
        let page = t.query(q.clone()).await.unwrap();
        seen.extend(page.items.iter().map(|i| i.n("i").unwrap()));
        match page.next {
            Some(c) => q.start = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).collect::<Vec<_>>());
    let ranged = query_all(
        t.as_ref(),
        Query::index(&GSI1, &g).sort(SortKey::Ge("T#05".into())),
    )
    .await
    .unwrap();
    assert_eq!(ranged.len(), 2);
}

pub async fn expired_item_is_invisible_to_reads_queries_and_conditions(f: Fixture) {
    let t = table(&f);
    let p = unique("P#");
    let key = Key::new(&p, "S");
    let expires = f.clock.now().secs() + 60;
    t.put(
        Item::new(&key).with(schema::TTL, expires).with("v", 1),
        None,
    )
    .await
    .unwrap();
    assert!(t.get(&key).await.unwrap().is_some());
    f.clock.advance(Duration::from_secs(61));
    assert_eq!(t.get(&key).await.unwrap(), None);
    assert!(
        query_all(t.as_ref(), Query::partition(&p))
            .await
            .unwrap()
            .is_empty()
    );
    let err = t.delete(&key, Some(Condition::Exists)).await.unwrap_err();
    assert!(matches!(err, Error::ConditionFailed), "{err:?}");
    // NotExists holds for an expired item, so it can be claimed afresh.
    t.put(Item::new(&key).with("v", 2), Some(Condition::NotExists))
        .await
        .unwrap();
    assert_eq!(t.get(&key).await.unwrap().unwrap().n("v"), Some(2));
}

pub async fn update_of_an_expired_item_starts_from_nothing(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    let expires = f.clock.now().secs() + 10;
    t.put(
        Item::new(&key)
            .with(schema::TTL, expires)
            .with("count", 4)
            .with("old", "x"),
        None,
    )
    .await
    .unwrap();
    f.clock.advance(Duration::from_secs(11));
    let after = t
        .update(
            &key,
            Update::new().add("count", 1).when(Condition::NotExists),
        )
        .await
        .unwrap();
    assert_eq!(after.n("count"), Some(1));
    assert_eq!(after.s("old"), None);
}

/// DynamoDB cannot reset an item inside a transaction, so the port says an update of an expired,
/// not yet deleted item fails there (a single `update` starts afresh instead); both agree.
pub async fn an_update_inside_a_transaction_fails_on_an_expired_item(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    let expires = f.clock.now().secs() + 10;
    t.put(
        Item::new(&key).with(schema::TTL, expires).with("count", 4),
        None,
    )
    .await
    .unwrap();
    f.clock.advance(Duration::from_secs(11));
    let bump = || TxOp::Update {
        key: key.clone(),
        update: Update::new().add("count", 1),
    };
    let other = Key::new(unique("P#"), "S");
    let err = t
        .transact(vec![
            TxOp::Put {
                item: Item::new(&other).with("v", 1),
                condition: None,
            },
            bump(),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TransactionCancelled { failed, .. } if failed == &vec![1]),
        "{err:?}"
    );
    assert_eq!(t.get(&other).await.unwrap(), None, "all or nothing");
    assert_eq!(t.get(&key).await.unwrap(), None, "still expired");
    // Put whole, the item can be written in a transaction again.
    t.transact(vec![TxOp::Put {
        item: Item::new(&key).with("count", 1),
        condition: Some(Condition::NotExists),
    }])
    .await
    .unwrap();
    t.transact(vec![bump()]).await.unwrap();
    assert_eq!(t.get(&key).await.unwrap().unwrap().n("count"), Some(2));
}

/// `limit` bounds the items a page evaluates, expired ones included (DynamoDB's rule): a page
/// of expired items comes back empty with a cursor, and following it finds the live item.
pub async fn a_limit_counts_expired_items_and_the_cursor_leads_past_them(f: Fixture) {
    let t = table(&f);
    let p = unique("P#");
    let expires = f.clock.now().secs() + 10;
    for sk in ["A", "B"] {
        t.put(
            Item::new(&Key::new(&p, sk)).with(schema::TTL, expires),
            None,
        )
        .await
        .unwrap();
    }
    t.put(Item::new(&Key::new(&p, "C")).with("v", 1), None)
        .await
        .unwrap();
    f.clock.advance(Duration::from_secs(11));
    let first = t.query(Query::partition(&p).limit(1)).await.unwrap();
    assert!(first.items.is_empty(), "{:?}", first.items);
    assert!(
        first.next.is_some(),
        "an evaluated expired item leaves a cursor"
    );
    let live = first_live(t.as_ref(), Query::partition(&p)).await.unwrap();
    assert_eq!(live.and_then(|i| i.key()), Some(Key::new(&p, "C")));
    let all = query_all(t.as_ref(), Query::partition(&p).limit(1))
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        first_live(t.as_ref(), Query::partition(unique("P#")))
            .await
            .unwrap(),
        None
    );
}

pub async fn conditional_delete_respects_its_condition(f: Fixture) {
    let t = table(&f);
    let key = Key::new(unique("P#"), "S");
    t.put(Item::new(&key).with("owner", "a"), None)
        .await
        .unwrap();
    let err = t
        .delete(&key, Some(Condition::eq("owner", "b")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConditionFailed));
    t.delete(&key, Some(Condition::eq("owner", "a")))
        .await
        .unwrap();
    assert_eq!(t.get(&key).await.unwrap(), None);
    // Deleting an absent item without a condition is not an error.
    t.delete(&key, None).await.unwrap();
}

/// Instantiates every `Table` case for `$fixture` (an async expression yielding a `Fixture`).
#[macro_export]
macro_rules! table_suite {
    ($fixture:expr) => {
        $crate::table_suite!(@cases $fixture;
            put_then_get_round_trips_every_value_type,
            conditional_put_on_existing_key_fails,
            update_conditioned_on_stale_version_fails,
            transaction_with_one_failing_condition_changes_nothing_and_names_it,
            concurrent_conditional_increments_lose_no_update,
            pagination_over_more_than_1mb_returns_every_item_once,
            query_selects_sort_key_ranges_and_prefixes_in_both_directions,
            secondary_index_query_pages_through_all_matches,
            expired_item_is_invisible_to_reads_queries_and_conditions,
            update_of_an_expired_item_starts_from_nothing,
            an_update_inside_a_transaction_fails_on_an_expired_item,
            a_limit_counts_expired_items_and_the_cursor_leads_past_them,
            conditional_delete_respects_its_condition,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::conformance::table::$case($fixture).await;
            }
        )*
    };
}

/// One HTTP request per `Table` method on DynamoDB, two for an update of an item that has
/// expired but is not yet deleted (the port's documented exception). The embedded adapter runs
/// every method as one redb transaction by construction; DynamoDB is where a method can hide
/// extra calls, so this case counts requests on the wire.
pub async fn every_method_is_one_round_trip_on_dynamodb(
    (f, wire): (Fixture, Arc<crate::fixtures::WireCounter>),
) {
    let t = table(&f);
    let p = unique("P#");
    let key = Key::new(&p, "S");
    let step = |what: &str, expected: u64, before: u64| {
        let used = wire.requests() - before;
        assert_eq!(used, expected, "{what}: {used} requests");
        wire.requests()
    };
    let mut at = wire.requests();
    t.put(Item::new(&key).with("v", 1), None).await.unwrap();
    at = step("put", 1, at);
    t.get(&key).await.unwrap();
    at = step("get", 1, at);
    t.update(&key, Update::new().add("v", 1)).await.unwrap();
    at = step("update", 1, at);
    let stale = t
        .update(&key, Update::new().add("v", 1).when(Condition::eq("v", 99)))
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::ConditionFailed));
    at = step("update whose condition fails", 1, at);
    t.query(Query::partition(&p)).await.unwrap();
    at = step("query", 1, at);
    t.transact(vec![TxOp::Check {
        key: key.clone(),
        condition: Condition::Exists,
    }])
    .await
    .unwrap();
    at = step("transact", 1, at);
    t.delete(&key, None).await.unwrap();
    at = step("delete", 1, at);
    let expiring = Key::new(&p, "T");
    t.put(
        Item::new(&expiring).with(schema::TTL, f.clock.now().secs() + 10),
        None,
    )
    .await
    .unwrap();
    f.clock.advance(Duration::from_secs(11));
    at = step("put", 1, at);
    let fresh = t
        .update(&expiring, Update::new().add("v", 1))
        .await
        .unwrap();
    assert_eq!(fresh.n("v"), Some(1));
    step("update of an expired, undeleted item", 2, at);
}
