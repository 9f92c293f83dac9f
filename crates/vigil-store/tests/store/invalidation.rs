//! Cache invalidation fan-out.

use std::time::Duration;

use tokio::sync::broadcast;
use vigil_store::Invalidation;

use crate::harness::{Backend, TestDb, tenant};

conformance!(invalidations_reach_every_replica);

/// The next invalidation for `tenant` (other cases share the PostgreSQL channel).
async fn next_for(rx: &mut broadcast::Receiver<Invalidation>, tenant: &str) -> Invalidation {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await.unwrap() {
                Invalidation::Tenant(t) if t != tenant => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("no invalidation within 10 s")
}

async fn invalidations_reach_every_replica(db: TestDb) {
    let store = db.migrated().await;
    let t = tenant();
    let mut here = store.subscribe_invalidations().await.unwrap();
    store.notify_invalidation(&t).await.unwrap();
    assert_eq!(
        next_for(&mut here, &t).await,
        Invalidation::Tenant(t.clone())
    );

    if db.backend == Backend::Postgres {
        // a second replica on the same database hears the first one
        let replica = vigil_store::connect(&db.url).await.unwrap();
        let mut there = replica.subscribe_invalidations().await.unwrap();
        let t2 = tenant();
        store.notify_invalidation(&t2).await.unwrap();
        assert_eq!(
            next_for(&mut there, &t2).await,
            Invalidation::Tenant(t2.clone())
        );
        assert_eq!(next_for(&mut here, &t2).await, Invalidation::Tenant(t2));
    }
}
