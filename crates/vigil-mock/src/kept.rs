//! Read answers a mock keeps: a list asked again is answered with the body computed the first
//! time, until a write changes the data it was computed from. The benchmarks run many mocks on
//! the gateway's cores, which remote products do not; recomputing the same list there would
//! be work a real deployment never sees.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Answers kept at most; more distinct requests start the memo over.
const MAX_KEPT: usize = 512;

/// Kept answers by request key, with the data generation they are valid for.
#[derive(Debug, Default)]
pub struct KeptAnswers {
    /// Bumped by every change to the data (under the data's lock, before it changes).
    generation: AtomicU64,
    bodies: Mutex<HashMap<String, Bytes>>,
}

impl KeptAnswers {
    /// The data generation; read under the data's lock together with the data an answer is
    /// computed from, and passed to [`KeptAnswers::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets every kept answer; called with the data's lock held, before the data changes.
    pub fn changing(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Keeps an answer computed from the data of `generation`, unless it changed since.
    pub fn keep(&self, generation: u64, key: String, body: Bytes) {
        let mut bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the bodies lock: a change bumps the generation before it clears them.
        if self.generation() != generation {
            return;
        }
        if bodies.len() >= MAX_KEPT {
            bodies.clear();
        }
        bodies.insert(key, body);
    }
}
