//! Vigil's common schema: the Microsoft Graph security `alert` resource and the identity
//! protection resources, exactly as Graph puts them on the wire, with the lenient input real Graph
//! clients need, and the fingerprint/merge rules that fold several providers' alerts into one.
//! Pure: no I/O, no async.

pub mod alert;
pub mod enums;
pub mod identity;
pub mod identity_merge;
pub mod merge;
pub mod query;
pub mod time;

pub use alert::*;
pub use enums::*;
pub use identity::*;
pub use time::{Timestamp, TimestampError};
