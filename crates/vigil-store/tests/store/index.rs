//! Migrations and the alert index.

use std::collections::HashMap;

use vigil_store::{AlertSource, Engine, StoreError};

use crate::harness::{Backend, TestDb, at, entry, tenant};

conformance!(
    migrate_twice_is_idempotent,
    index_round_trip,
    resolve_by_unified_or_provider_id,
    ids_stay_stable,
    batch_of_5000_in_one_call,
    relisting_rewrites_nothing,
    tenant_isolation,
    concurrent_upserts,
    reassign_moves_copies_and_keeps_tenants_apart,
);

async fn reassign_moves_copies_and_keeps_tenants_apart(db: TestDb) {
    let store = db.migrated().await;
    let (t, other) = (tenant(), tenant());
    store
        .index_alerts(
            &t,
            &[entry("a-1", "graph", "a-1"), entry("x", "edr", "e-1")],
        )
        .await
        .unwrap();
    store
        .index_alerts(&other, &[entry("x", "edr", "e-1")])
        .await
        .unwrap();
    // The edr copy turns out to be the same detection as a-1.
    store
        .reassign_alerts(
            &t,
            &[entry("a-1", "edr", "e-1"), entry("a-1", "falcon", "f-9")],
        )
        .await
        .unwrap();
    assert_eq!(
        store.sources_of(&t, "a-1").await.unwrap(),
        vec![
            AlertSource::new("edr", "e-1"),
            AlertSource::new("falcon", "f-9"),
            AlertSource::new("graph", "a-1"),
        ]
    );
    assert!(store.sources_of(&t, "x").await.unwrap().is_empty());
    // index_alerts now reports the new id, and the other tenant is untouched.
    let indexed = store
        .index_alerts(&t, &[entry("proposal", "edr", "e-1")])
        .await
        .unwrap();
    assert_eq!(indexed[&AlertSource::new("edr", "e-1")], "a-1");
    assert_eq!(
        store.sources_of(&other, "x").await.unwrap(),
        vec![AlertSource::new("edr", "e-1")]
    );
    store.reassign_alerts(&t, &[]).await.unwrap();
}

async fn migrate_twice_is_idempotent(db: TestDb) {
    let store = db.store.clone();
    let expected = match db.backend {
        Backend::Sqlite => Engine::Sqlite,
        Backend::Postgres => Engine::Postgres,
    };
    assert_eq!(store.engine(), expected);
    store.ping().await.unwrap();
    assert!(!store.migrations_applied().await.unwrap(), "fresh database");
    store.migrate().await.unwrap();
    assert!(store.migrations_applied().await.unwrap());
    store.migrate().await.unwrap();
    assert!(store.migrations_applied().await.unwrap());
    // data written after the first migration survives the second
    let t = tenant();
    store
        .index_alerts(&t, &[entry("u1", "graph", "g1")])
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store.sources_of(&t, "u1").await.unwrap(),
        vec![AlertSource::new("graph", "g1")]
    );
}

async fn index_round_trip(db: TestDb) {
    let store = db.migrated().await;
    let t = tenant();
    // two providers' copies folded into u1, one copy alone in u2
    let entries = [
        entry("u1", "graph", "g-1"),
        entry("u1", "edr", "e-1"),
        entry("u2", "graph", "g-2"),
    ];
    let indexed = store.index_alerts(&t, &entries).await.unwrap();
    let expected: HashMap<AlertSource, String> = [
        (AlertSource::new("graph", "g-1"), "u1".to_owned()),
        (AlertSource::new("edr", "e-1"), "u1".to_owned()),
        (AlertSource::new("graph", "g-2"), "u2".to_owned()),
    ]
    .into();
    assert_eq!(indexed, expected);
    assert_eq!(
        store.sources_of(&t, "u1").await.unwrap(),
        vec![
            AlertSource::new("edr", "e-1"),
            AlertSource::new("graph", "g-1")
        ]
    );
    assert_eq!(
        store.sources_of(&t, "u2").await.unwrap(),
        vec![AlertSource::new("graph", "g-2")]
    );
    assert!(store.sources_of(&t, "u3").await.unwrap().is_empty());

    // idempotent: the same page again changes nothing
    assert_eq!(store.index_alerts(&t, &entries).await.unwrap(), expected);
    assert_eq!(db.index_rows().await, 3);
    // an empty page is fine
    assert!(store.index_alerts(&t, &[]).await.unwrap().is_empty());
}

async fn resolve_by_unified_or_provider_id(db: TestDb) {
    let store = db.migrated().await;
    let t = tenant();
    store
        .index_alerts(
            &t,
            &[
                entry("u1", "graph", "g-1"),
                entry("u1", "edr", "e-1"),
                entry("u2", "graph", "7"),
                entry("u3", "edr", "7"),
            ],
        )
        .await
        .unwrap();

    let u1 = store.resolve(&t, "u1").await.unwrap().unwrap();
    assert_eq!(u1.unified_id, "u1");
    assert_eq!(
        u1.sources,
        vec![
            AlertSource::new("edr", "e-1"),
            AlertSource::new("graph", "g-1")
        ]
    );
    // any provider's own id resolves to the whole unified alert
    assert_eq!(store.resolve(&t, "g-1").await.unwrap().as_ref(), Some(&u1));
    assert_eq!(store.resolve(&t, "e-1").await.unwrap().as_ref(), Some(&u1));
    assert_eq!(store.resolve(&t, "nope").await.unwrap(), None);

    // "7" is a copy at two providers, in two different alerts
    match store.resolve(&t, "7").await {
        Err(StoreError::AmbiguousId { id, unified_ids }) => {
            assert_eq!(id, "7");
            assert_eq!(unified_ids, vec!["u2".to_owned(), "u3".to_owned()]);
        }
        other => panic!("expected AmbiguousId, got {other:?}"),
    }
    // naming the provider disambiguates
    let u3 = store
        .resolve_source(&t, &AlertSource::new("edr", "7"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u3.unified_id, "u3");
    assert_eq!(u3.sources, vec![AlertSource::new("edr", "7")]);
    let via_copy = store
        .resolve_source(&t, &AlertSource::new("graph", "g-1"))
        .await
        .unwrap();
    assert_eq!(via_copy.as_ref(), Some(&u1));
    assert_eq!(
        store
            .resolve_source(&t, &AlertSource::new("edr", "g-1"))
            .await
            .unwrap(),
        None
    );
}

async fn ids_stay_stable(db: TestDb) {
    let store = db.migrated().await;
    let t = tenant();
    store
        .index_alerts(&t, &[entry("u1", "graph", "g-1")])
        .await
        .unwrap();
    // a later page proposes another unified id for the same copy: the first one stays
    let mut again = entry("u-other", "graph", "g-1");
    again.last_seen = at(3600);
    again.fingerprint = Some("fp-2".into());
    let indexed = store
        .index_alerts(&t, &[again, entry("u1", "edr", "e-1")])
        .await
        .unwrap();
    assert_eq!(indexed[&AlertSource::new("graph", "g-1")], "u1");
    assert_eq!(indexed[&AlertSource::new("edr", "e-1")], "u1");
    assert_eq!(store.resolve(&t, "u-other").await.unwrap(), None);
    assert_eq!(
        store.resolve(&t, "g-1").await.unwrap().unwrap().unified_id,
        "u1"
    );
    // a copy listed twice in one page is indexed once, under its latest sighting
    let mut early = entry("u9", "edr", "dup");
    early.last_seen = at(10);
    let mut late = entry("u8", "edr", "dup");
    late.last_seen = at(20);
    let indexed = store.index_alerts(&t, &[early, late]).await.unwrap();
    assert_eq!(indexed.len(), 1);
    assert_eq!(indexed[&AlertSource::new("edr", "dup")], "u8");
}

async fn batch_of_5000_in_one_call(db: TestDb) {
    let store = db.migrated().await;
    db.count_index_writes().await;
    let t = tenant();
    // more than one SQLite statement's worth of parameters (4680 rows), half of the copies
    // folded in pairs
    let entries: Vec<_> = (0..5000)
        .map(|i| {
            let mut e = entry(
                &format!("u-{}", i / 2),
                &format!("p{}", i % 2),
                &format!("a-{i}"),
            );
            e.fingerprint = Some(format!("fp-{}", i / 2));
            e
        })
        .collect();
    let indexed = store.index_alerts(&t, &entries).await.unwrap();
    assert_eq!(indexed.len(), 5000);
    for e in &entries {
        assert_eq!(
            indexed[&AlertSource::new(e.provider.clone(), e.provider_alert_id.clone())],
            e.unified_id
        );
    }
    assert_eq!(db.index_rows().await, 5000);
    let r = store.resolve(&t, "a-4999").await.unwrap().unwrap();
    assert_eq!(r.unified_id, "u-2499");
    assert_eq!(
        r.sources,
        vec![
            AlertSource::new("p0", "a-4998"),
            AlertSource::new("p1", "a-4999")
        ]
    );
    if let Some(statements) = db.index_insert_statements().await {
        assert_eq!(statements, 1, "5000 entries must be one INSERT statement");
    }
    // the same page again: still one statement, and no row rewritten
    store.index_alerts(&t, &entries).await.unwrap();
    if let Some(statements) = db.index_insert_statements().await {
        assert_eq!(statements, 2);
    }
    assert_eq!(db.index_rows_updated().await, 0);
}

async fn relisting_rewrites_nothing(db: TestDb) {
    let store = db.migrated().await;
    db.count_index_writes().await;
    let t = tenant();
    let page = |seconds: i64, fingerprint: Option<&str>| {
        (0..10)
            .map(|i| {
                let mut e = entry(&format!("u{i}"), "graph", &format!("g{i}"));
                e.last_seen = at(seconds);
                e.fingerprint = fingerprint.map(str::to_owned);
                e
            })
            .collect::<Vec<_>>()
    };
    store.index_alerts(&t, &page(0, Some("a"))).await.unwrap();
    // listed again a few seconds and minutes later: nothing to write
    store.index_alerts(&t, &page(5, Some("a"))).await.unwrap();
    store
        .index_alerts(&t, &page(9 * 60, Some("a")))
        .await
        .unwrap();
    // a sighting without a fingerprint does not erase it
    store.index_alerts(&t, &page(9 * 60, None)).await.unwrap();
    assert_eq!(db.index_rows_updated().await, 0);
    // last_seen moved by the resolution: every row is touched once
    let resolution = vigil_store::LAST_SEEN_RESOLUTION.num_seconds();
    store
        .index_alerts(&t, &page(resolution, Some("a")))
        .await
        .unwrap();
    assert_eq!(db.index_rows_updated().await, 10);
    // a changed fingerprint is written at once
    store
        .index_alerts(&t, &page(resolution + 1, Some("b")))
        .await
        .unwrap();
    assert_eq!(db.index_rows_updated().await, 20);
}

async fn tenant_isolation(db: TestDb) {
    let store = db.migrated().await;
    let (a, b) = (tenant(), tenant());
    store
        .index_alerts(
            &a,
            &[entry("ua", "graph", "shared-id"), entry("ua", "edr", "e-a")],
        )
        .await
        .unwrap();
    // tenant B sees none of A's ids
    assert_eq!(store.resolve(&b, "ua").await.unwrap(), None);
    assert_eq!(store.resolve(&b, "shared-id").await.unwrap(), None);
    assert_eq!(store.resolve(&b, "e-a").await.unwrap(), None);
    assert!(store.sources_of(&b, "ua").await.unwrap().is_empty());
    assert_eq!(
        store
            .resolve_source(&b, &AlertSource::new("graph", "shared-id"))
            .await
            .unwrap(),
        None
    );
    // the same provider copy id in B is B's own alert, and A's mapping is untouched
    let indexed = store
        .index_alerts(&b, &[entry("ub", "graph", "shared-id")])
        .await
        .unwrap();
    assert_eq!(indexed[&AlertSource::new("graph", "shared-id")], "ub");
    assert_eq!(
        store
            .resolve(&a, "shared-id")
            .await
            .unwrap()
            .unwrap()
            .unified_id,
        "ua"
    );
    let ub = store.resolve(&b, "shared-id").await.unwrap().unwrap();
    assert_eq!(ub.unified_id, "ub");
    assert_eq!(ub.sources, vec![AlertSource::new("graph", "shared-id")]);
}

async fn concurrent_upserts(db: TestDb) {
    let store = db.migrated().await;
    let t = tenant();
    // eight writers index overlapping pages of the same 400 copies, each proposing its own
    // unified ids, in different orders
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut entries: Vec<_> = (0..400)
                .filter(|i| (i + w) % 3 != 0)
                .map(|i| {
                    entry(
                        &format!("w{w}-u{i}"),
                        &format!("p{}", i % 4),
                        &format!("a{i}"),
                    )
                })
                .collect();
            if w % 2 == 1 {
                entries.reverse();
            }
            let mut seen = Vec::new();
            for chunk in entries.chunks(100) {
                seen.push(store.index_alerts(&t, chunk).await.unwrap());
            }
            seen
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.unwrap());
    }
    assert_eq!(db.index_rows().await, 400);
    // every answer agrees with the final state, and every copy kept the id of the writer
    // that indexed it first
    for i in 0..400 {
        let source = AlertSource::new(format!("p{}", i % 4), format!("a{i}"));
        let stored = store.resolve_source(&t, &source).await.unwrap().unwrap();
        assert!(stored.unified_id.ends_with(&format!("-u{i}")), "{stored:?}");
        for answer in &answers {
            if let Some(unified) = answer.get(&source) {
                assert_eq!(
                    unified, &stored.unified_id,
                    "writers disagree on {source:?}"
                );
            }
        }
    }
    let answered: usize = answers.iter().map(HashMap::len).sum();
    let requested: usize = (0..8)
        .map(|w| (0..400).filter(|i| (i + w) % 3 != 0).count())
        .sum();
    assert_eq!(answered, requested, "every entry gets its unified id back");
}

/// SQLite only: the in-memory database tests and tools use, and the URL dispatch.
#[tokio::test]
async fn memory_store_and_url_schemes() {
    let store = vigil_store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.engine(), Engine::Sqlite);
    store.migrate().await.unwrap();
    assert!(store.migrations_applied().await.unwrap());
    let t = tenant();
    store
        .index_alerts(&t, &[entry("u1", "graph", "g-1")])
        .await
        .unwrap();
    assert_eq!(
        store.resolve(&t, "g-1").await.unwrap().unwrap().unified_id,
        "u1"
    );

    match vigil_store::connect("mysql://vigil:hunter2@db/vigil").await {
        Err(StoreError::UnsupportedUrl(url)) => assert!(!url.contains("hunter2"), "{url}"),
        other => panic!("expected UnsupportedUrl, got {other:?}"),
    }
}
