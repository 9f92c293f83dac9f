//! History and the write-back outbox.

use std::collections::HashSet;

use chrono::TimeDelta;
use serde_json::json;
use vigil_model::alert::AlertHistoryState;
use vigil_model::{AlertFeedback, AlertStatus, Timestamp};
use vigil_store::{
    AlertSource, ChangeTarget, Constraint, NewChange, OutboxState, OutboxStats, Store, StoreError,
};

use crate::harness::{TestDb, at, entry, t0, tenant};

conformance!(
    change_writes_history_and_outbox_rows,
    conditional_changes_record_only_on_the_expected_history,
    history_is_oldest_first,
    histories_of_a_page_in_one_call,
    a_failed_change_writes_nothing,
    claim_deliver_retry_and_dead_letter,
    an_expired_lease_passes_the_row_on,
    concurrent_claims_never_share_a_row,
    outbox_is_per_tenant,
    outbox_stats_count_every_tenant_by_state,
);

fn resolved_by(user: &str, seconds: i64) -> AlertHistoryState {
    AlertHistoryState {
        app_id: Some("app-1".into()),
        user: Some(user.into()),
        status: Some(AlertStatus::Resolved),
        feedback: Some(AlertFeedback::TruePositive),
        comments: vec!["Closed in IPC".into()],
        updated_date_time: Some(Timestamp(at(seconds))),
        assigned_to: None,
    }
}

fn change(tenant: &str, unified: &str, targets: &[(&str, &str)]) -> NewChange {
    NewChange {
        tenant_id: tenant.to_owned(),
        unified_id: unified.to_owned(),
        request_id: None,
        history: resolved_by("analyst@contoso.com", 0),
        targets: targets
            .iter()
            .map(|(p, id)| ChangeTarget {
                source: AlertSource::new(*p, *id),
                payload: json!({"status": "resolved", "target": p}),
            })
            .collect(),
        expected_changes: None,
    }
}

async fn indexed(db: &TestDb, tenant: &str) -> std::sync::Arc<dyn Store> {
    let store = db.migrated().await;
    store
        .index_alerts(
            tenant,
            &[entry("u1", "graph", "g-1"), entry("u1", "edr", "e-1")],
        )
        .await
        .unwrap();
    store
}

async fn change_writes_history_and_outbox_rows(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    let mut c = change(&t, "u1", &[("graph", "g-1"), ("edr", "e-1")]);
    c.request_id = Some("req-1".into());
    let done = store.enqueue_change(&c, at(1)).await.unwrap();
    assert_eq!(done.outbox_ids.len(), 2);

    let history = store.history(&t, "u1").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, done.history_id);
    assert_eq!(history[0].entry, c.history);
    assert_eq!(history[0].request_id.as_deref(), Some("req-1"));
    assert_eq!(history[0].recorded_at, at(1));

    let pending = store
        .list_outbox(&t, OutboxState::Pending, 10)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|e| e.id).collect::<Vec<_>>(),
        done.outbox_ids
    );
    let graph = &pending[0];
    assert_eq!(graph.source, AlertSource::new("graph", "g-1"));
    assert_eq!(
        graph.payload,
        json!({"status": "resolved", "target": "graph"})
    );
    assert_eq!(graph.history_id, done.history_id);
    assert_eq!(graph.unified_id, "u1");
    assert_eq!(graph.tenant_id, t);
    assert_eq!(graph.attempts, 0);
    assert_eq!(
        (graph.created_at, graph.age_from, graph.next_attempt_at),
        (at(1), at(1), at(1))
    );
    assert_eq!(graph.last_error, None);

    // the same request again is refused by name, and records nothing
    let again = store.enqueue_change(&c, at(2)).await.unwrap_err();
    assert!(
        again.is_unique_violation_of(&Constraint::HistoryRequest),
        "{again:?}"
    );
    assert_eq!(store.history(&t, "u1").await.unwrap().len(), 1);
    assert_eq!(
        store
            .list_outbox(&t, OutboxState::Pending, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn conditional_changes_record_only_on_the_expected_history(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    let mut c = change(&t, "u1", &[("graph", "g-1")]);
    c.expected_changes = Some(0);
    store.enqueue_change(&c, at(1)).await.unwrap();
    // two callers that both computed their precondition before the first change: the second
    // finds the history moved on and records nothing
    let stale = store.enqueue_change(&c, at(2)).await.unwrap_err();
    assert!(
        matches!(
            stale,
            vigil_store::StoreError::ChangedMeanwhile {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{stale:?}"
    );
    assert_eq!(store.history(&t, "u1").await.unwrap().len(), 1);
    assert_eq!(
        store
            .list_outbox(&t, OutboxState::Pending, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    c.expected_changes = Some(1);
    store.enqueue_change(&c, at(3)).await.unwrap();
    c.expected_changes = None;
    store.enqueue_change(&c, at(4)).await.unwrap();
    assert_eq!(store.history(&t, "u1").await.unwrap().len(), 3);

    // racing conditional changes on one precondition: exactly one is recorded
    let mut racers = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let mut c = change(&t, "u1", &[("graph", "g-1")]);
        c.expected_changes = Some(3);
        racers.push(tokio::spawn(async move {
            store.enqueue_change(&c, at(10 + i)).await
        }));
    }
    let mut recorded = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => recorded += 1,
            Err(vigil_store::StoreError::ChangedMeanwhile { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(store.history(&t, "u1").await.unwrap().len(), 4);
}

async fn history_is_oldest_first(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    for (i, user) in ["first@x", "second@x", "third@x"].iter().enumerate() {
        let seconds = i64::try_from(i).unwrap();
        store
            .append_history(&t, "u1", &resolved_by(user, seconds), at(seconds))
            .await
            .unwrap();
    }
    let users: Vec<_> = store
        .history(&t, "u1")
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.entry.user.unwrap())
        .collect();
    assert_eq!(users, ["first@x", "second@x", "third@x"]);
    assert!(store.history(&t, "u2").await.unwrap().is_empty());
    // history alone queues nothing
    assert!(
        store
            .list_outbox(&t, OutboxState::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn histories_of_a_page_in_one_call(db: TestDb) {
    let t = tenant();
    let store = db.migrated().await;
    store
        .index_alerts(
            &t,
            &[
                entry("u1", "graph", "g-1"),
                entry("u2", "graph", "g-2"),
                entry("u3", "graph", "g-3"),
            ],
        )
        .await
        .unwrap();
    for (i, (unified, user)) in [("u1", "a@x"), ("u2", "b@x"), ("u1", "c@x")]
        .iter()
        .enumerate()
    {
        let seconds = i64::try_from(i).unwrap();
        store
            .append_history(&t, unified, &resolved_by(user, seconds), at(seconds))
            .await
            .unwrap();
    }
    let ids: Vec<String> = ["u1", "u2", "u3", "u1"].map(String::from).to_vec();
    let all = store.histories(&t, &ids).await.unwrap();
    let users = |id: &str| -> Vec<String> {
        all.get(id)
            .map(|h| h.iter().map(|r| r.entry.user.clone().unwrap()).collect())
            .unwrap_or_default()
    };
    // Each alert's own history, oldest first, the same as `history` answers one by one.
    assert_eq!(users("u1"), ["a@x", "c@x"]);
    assert_eq!(users("u2"), ["b@x"]);
    assert!(!all.contains_key("u3"));
    for id in ["u1", "u2"] {
        let one: Vec<i64> = store
            .history(&t, id)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        let batch: Vec<i64> = all[id].iter().map(|r| r.id).collect();
        assert_eq!(one, batch);
    }
    // Another tenant sees none of it.
    let other = store.histories(&tenant(), &ids).await.unwrap();
    assert!(other.is_empty());
}

async fn a_failed_change_writes_nothing(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    // the same provider twice: the second outbox row violates outbox_target_key, and the
    // history entry written before it is rolled back with it
    let twice = change(&t, "u1", &[("graph", "g-1"), ("graph", "g-1")]);
    let err = store.enqueue_change(&twice, t0()).await.unwrap_err();
    assert!(
        err.is_unique_violation_of(&Constraint::OutboxTarget),
        "{err:?}"
    );
    // a target that is not a copy of the alert
    let stranger = change(&t, "u1", &[("graph", "g-2")]);
    assert!(matches!(
        store.enqueue_change(&stranger, t0()).await,
        Err(StoreError::NotASource { .. })
    ));
    // an alert the tenant does not have
    let unknown = change(&t, "u9", &[]);
    assert!(matches!(
        store.enqueue_change(&unknown, t0()).await,
        Err(StoreError::UnknownAlert { .. })
    ));
    assert!(store.history(&t, "u1").await.unwrap().is_empty());
    assert!(
        store
            .list_outbox(&t, OutboxState::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn claim_deliver_retry_and_dead_letter(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    let lease = TimeDelta::seconds(30);
    let done = store
        .enqueue_change(&change(&t, "u1", &[("graph", "g-1"), ("edr", "e-1")]), t0())
        .await
        .unwrap();
    let (graph_id, edr_id) = (done.outbox_ids[0], done.outbox_ids[1]);

    // nothing is due before it was enqueued
    assert!(store.claim_due(at(-1), 10, lease).await.unwrap().is_empty());
    let claims = store.claim_due(t0(), 10, lease).await.unwrap();
    assert_eq!(
        claims.iter().map(|c| c.entry.id).collect::<Vec<_>>(),
        [graph_id, edr_id]
    );
    assert!(claims.iter().all(|c| c.entry.attempts == 1));
    assert!(claims.iter().all(|c| c.entry.next_attempt_at == at(30)));
    // leased: not claimable again meanwhile
    assert!(store.claim_due(at(29), 10, lease).await.unwrap().is_empty());

    // graph: delivered
    let graph = &claims[0];
    assert!(
        store
            .mark_delivered(graph_id, graph.token, at(1))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_delivered(graph_id, graph.token, at(2))
            .await
            .unwrap(),
        "settled once"
    );
    let delivered = store
        .list_outbox(&t, OutboxState::Delivered, 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        (delivered[0].id, delivered[0].updated_at),
        (graph_id, at(1))
    );

    // edr: throttled, retry after 60 s
    let edr = &claims[1];
    assert!(
        store
            .schedule_retry(edr_id, edr.token, at(61), "429 Too Many Requests", at(1))
            .await
            .unwrap()
    );
    assert!(store.claim_due(at(60), 10, lease).await.unwrap().is_empty());
    let retry = store.claim_due(at(61), 10, lease).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].entry.attempts, 2);
    assert_eq!(
        retry[0].entry.last_error.as_deref(),
        Some("429 Too Many Requests")
    );
    assert_ne!(retry[0].token, edr.token);

    // too old: dead letter, listed for the operator, then re-driven
    assert!(
        store
            .dead_letter(edr_id, retry[0].token, "gave up after 24h", at(62))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_due(at(10_000), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
    let dead = store.list_outbox(&t, OutboxState::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, edr_id);
    assert_eq!(dead[0].last_error.as_deref(), Some("gave up after 24h"));
    assert!(
        !store.redrive(&t, graph_id, at(100)).await.unwrap(),
        "only dead rows"
    );
    assert!(store.redrive(&t, edr_id, at(100)).await.unwrap());
    assert!(
        store
            .list_outbox(&t, OutboxState::Dead, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due(at(100), 10, lease).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].entry.attempts, 1, "a re-drive starts over");
    assert_eq!(again[0].entry.age_from, at(100));
    assert_eq!(again[0].entry.created_at, t0());
    assert!(
        store
            .mark_delivered(edr_id, again[0].token, at(101))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_outbox(&t, OutboxState::Delivered, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn an_expired_lease_passes_the_row_on(db: TestDb) {
    let t = tenant();
    let store = indexed(&db, &t).await;
    let lease = TimeDelta::seconds(30);
    let id = store
        .enqueue_change(&change(&t, "u1", &[("graph", "g-1")]), t0())
        .await
        .unwrap()
        .outbox_ids[0];
    // worker 1 claims and goes silent
    let first = store.claim_due(t0(), 10, lease).await.unwrap().remove(0);
    // after the lease, worker 2 gets the row
    let second = store.claim_due(at(30), 10, lease).await.unwrap().remove(0);
    assert_eq!(second.entry.id, id);
    assert_eq!(second.entry.attempts, 2);
    // worker 1 wakes up: its claim is gone, whatever it tries
    assert!(!store.mark_delivered(id, first.token, at(31)).await.unwrap());
    assert!(
        !store
            .schedule_retry(id, first.token, at(90), "late", at(31))
            .await
            .unwrap()
    );
    assert!(
        !store
            .dead_letter(id, first.token, "late", at(31))
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_delivered(id, second.token, at(32))
            .await
            .unwrap()
    );
}

async fn concurrent_claims_never_share_a_row(db: TestDb) {
    let t = tenant();
    let store = db.migrated().await;
    let entries: Vec<_> = (0..60)
        .map(|i| entry(&format!("u{i}"), "graph", &format!("g{i}")))
        .collect();
    store.index_alerts(&t, &entries).await.unwrap();
    let mut expected = HashSet::new();
    for i in 0..60 {
        let c = change(&t, &format!("u{i}"), &[("graph", &format!("g{i}"))]);
        expected.extend(store.enqueue_change(&c, t0()).await.unwrap().outbox_ids);
    }
    // four workers claim in small batches until nothing is due
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claims = store
                    .claim_due(at(1), 7, TimeDelta::minutes(5))
                    .await
                    .unwrap();
                if claims.is_empty() {
                    return mine;
                }
                mine.extend(claims.into_iter().map(|c| c.entry.id));
            }
        }));
    }
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), unique.len(), "a row was claimed twice");
    assert_eq!(unique, expected);
}

async fn outbox_is_per_tenant(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let store = indexed(&db, &a).await;
    let id = store
        .enqueue_change(&change(&a, "u1", &[("graph", "g-1")]), t0())
        .await
        .unwrap()
        .outbox_ids[0];
    let claim = store
        .claim_due(t0(), 10, TimeDelta::seconds(30))
        .await
        .unwrap();
    let claim = claim.into_iter().find(|c| c.entry.id == id).unwrap();
    assert_eq!(claim.entry.tenant_id, a);
    assert!(
        store
            .dead_letter(id, claim.token, "boom", at(1))
            .await
            .unwrap()
    );

    // tenant B can neither see, re-drive, nor write history for A's alert
    assert!(
        store
            .list_outbox(&b, OutboxState::Dead, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.redrive(&b, id, at(2)).await.unwrap());
    assert!(store.history(&b, "u1").await.unwrap().is_empty());
    assert!(matches!(
        store
            .enqueue_change(&change(&b, "u1", &[("graph", "g-1")]), at(3))
            .await,
        Err(StoreError::UnknownAlert { .. })
    ));
    assert_eq!(
        store
            .list_outbox(&a, OutboxState::Dead, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.history(&a, "u1").await.unwrap().len(), 1);
}

async fn outbox_stats_count_every_tenant_by_state(db: TestDb) {
    let store = db.migrated().await;
    assert_eq!(store.outbox_stats().await.unwrap(), OutboxStats::default());
    let (t1, t2) = (tenant(), tenant());
    for t in [&t1, &t2] {
        store
            .index_alerts(t, &[entry("u1", "graph", "g-1"), entry("u1", "edr", "e-1")])
            .await
            .unwrap();
    }
    let lease = TimeDelta::seconds(30);
    // t1 at 5 s: two rows; t2 at 10 s: two rows
    store
        .enqueue_change(
            &change(&t1, "u1", &[("graph", "g-1"), ("edr", "e-1")]),
            at(5),
        )
        .await
        .unwrap();
    store
        .enqueue_change(
            &change(&t2, "u1", &[("graph", "g-1"), ("edr", "e-1")]),
            at(10),
        )
        .await
        .unwrap();
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.delivered, stats.dead), (4, 0, 0));
    assert_eq!(stats.oldest_pending_created_at, Some(at(5)));

    // t1's rows settle (one delivered, one dead): the oldest pending row is now t2's, and a
    // claimed row still counts as pending (it is not delivered until it is settled)
    let claims = store.claim_due(at(5), 2, lease).await.unwrap();
    assert_eq!(claims.len(), 2);
    assert!(claims.iter().all(|c| c.entry.tenant_id == t1));
    assert!(
        store
            .mark_delivered(claims[0].entry.id, claims[0].token, at(6))
            .await
            .unwrap()
    );
    let claimed = store.outbox_stats().await.unwrap();
    assert_eq!((claimed.pending, claimed.delivered), (3, 1));
    assert!(
        store
            .dead_letter(claims[1].entry.id, claims[1].token, "gone", at(6))
            .await
            .unwrap()
    );
    let stats = store.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.delivered, stats.dead), (2, 1, 1));
    assert_eq!(stats.oldest_pending_created_at, Some(at(10)));
}
