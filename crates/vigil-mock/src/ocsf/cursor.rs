//! The source's opaque paging cursor.
//!
//! A cursor is a keyset position, not an offset: it names the sort key (`time`, `uid`) of the
//! last record returned, so a record changed or added while a client pages neither repeats nor
//! shifts the rest. It is bound to the listing (`findings`, `users`, `detections`), the tenant and
//! a digest of the filters, and sealed with a keyed checksum whose key is drawn when the router
//! is built: a cursor edited by hand, taken to another tenant or another listing, reused with
//! other filters, or kept across a mock restart is refused (`400 invalid_cursor`).
//!
//! Wire form: `v1.<hex payload>.<hex tag>`. The tag is SipHash (std's `DefaultHasher`) over the
//! key and the payload: tamper-evident for a test double, not a cryptographic MAC.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub listing: String,
    pub tenant: String,
    pub filters: u64,
    /// Sort key of the last record served.
    pub time: i64,
    pub uid: String,
}

/// Seals and opens cursors with one key.
#[derive(Debug, Clone)]
pub struct CursorKey([u8; 16]);

/// Why a cursor was refused (the message of the `invalid_cursor` answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the cursor is not one this source issued")]
    Malformed,
    #[error("the cursor was altered")]
    BadChecksum,
    #[error("the cursor belongs to another listing, tenant or filter set")]
    Mismatch,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// A digest of filter values, to bind a cursor to the query it continues.
pub fn filter_digest(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl CursorKey {
    pub fn new(key: [u8; 16]) -> Self {
        Self(key)
    }

    /// A fresh random key.
    pub fn random() -> Self {
        Self(*uuid::Uuid::new_v4().as_bytes())
    }

    fn tag(&self, payload: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        self.0.hash(&mut h);
        payload.hash(&mut h);
        h.finish()
    }

    pub fn seal(&self, c: &Cursor) -> String {
        let payload = format!(
            "{}|{}|{:016x}|{}|{}",
            c.listing, c.tenant, c.filters, c.time, c.uid
        );
        let tag = self.tag(payload.as_bytes());
        format!("v1.{}.{}", hex(payload.as_bytes()), hex(&tag.to_be_bytes()))
    }

    /// Opens a cursor and checks it continues `listing` for `tenant` with `filters`.
    pub fn open(
        &self,
        raw: &str,
        listing: &str,
        tenant: &str,
        filters: u64,
    ) -> Result<Cursor, CursorError> {
        let mut parts = raw.trim().split('.');
        let (Some("v1"), Some(payload), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CursorError::Malformed);
        };
        let payload = unhex(payload).ok_or(CursorError::Malformed)?;
        let tag = unhex(tag).ok_or(CursorError::Malformed)?;
        let tag: [u8; 8] = tag.try_into().map_err(|_| CursorError::Malformed)?;
        if u64::from_be_bytes(tag) != self.tag(&payload) {
            return Err(CursorError::BadChecksum);
        }
        let text = String::from_utf8(payload).map_err(|_| CursorError::Malformed)?;
        let mut f = text.splitn(5, '|');
        let (Some(l), Some(t), Some(fd), Some(time), Some(uid)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(CursorError::Malformed);
        };
        let cursor = Cursor {
            listing: l.to_owned(),
            tenant: t.to_owned(),
            filters: u64::from_str_radix(fd, 16).map_err(|_| CursorError::Malformed)?,
            time: time.parse().map_err(|_| CursorError::Malformed)?,
            uid: uid.to_owned(),
        };
        if cursor.listing != listing || cursor.tenant != tenant || cursor.filters != filters {
            return Err(CursorError::Mismatch);
        }
        Ok(cursor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            listing: "findings".into(),
            tenant: "t1".into(),
            filters: 42,
            time: 1_700_000_000_000,
            uid: "a|b".into(),
        }
    }

    #[test]
    fn seal_open_round_trip() {
        let k = CursorKey::new([7; 16]);
        let raw = k.seal(&sample());
        assert_eq!(k.open(&raw, "findings", "t1", 42), Ok(sample()));
    }

    #[test]
    fn tampering_and_misuse_are_refused() {
        let k = CursorKey::new([7; 16]);
        let raw = k.seal(&sample());
        assert_eq!(k.open(&raw, "users", "t1", 42), Err(CursorError::Mismatch));
        assert_eq!(
            k.open(&raw, "findings", "t2", 42),
            Err(CursorError::Mismatch)
        );
        assert_eq!(
            k.open(&raw, "findings", "t1", 43),
            Err(CursorError::Mismatch)
        );
        let other = CursorKey::new([8; 16]);
        assert_eq!(
            other.open(&raw, "findings", "t1", 42),
            Err(CursorError::BadChecksum)
        );
        // Flip one payload digit.
        let mut bytes = raw.into_bytes();
        bytes[5] = if bytes[5] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(
            k.open(&flipped, "findings", "t1", 42),
            Err(CursorError::BadChecksum)
        );
        for junk in [
            "",
            "v1",
            "v1..",
            "v1.zz.00",
            "v2.00.00",
            "v1.00.0011223344556677",
            "é.é.é",
        ] {
            assert!(k.open(junk, "findings", "t1", 42).is_err(), "{junk}");
        }
    }
}
