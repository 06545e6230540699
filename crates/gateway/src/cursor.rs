//! Opaque pagination cursors. A cursor is URL-safe base64 (no padding) of a tagged text, so a
//! cursor of one list is refused by another and a client never learns to build one:
//!
//! - accounts (keyset on `(name, id)`): `account:<uuid>:<name>`; courses (keyset on
//!   `(title, id)`): `course:<uuid>:<title>`;
//! - offset lists: `<list>:<offset>` (the offset of the edge the cursor points at).

use crate::error::GatewayError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// Longest cursor accepted, in characters; an account name is a few hundred at most.
const MAX_CURSOR_LEN: usize = 4096;

/// The cursor of an account at `(name, id)` in the keyset order.
pub(crate) fn encode_account(name: &str, id: Uuid) -> String {
    encode_keyset("account", name, id)
}

/// The `(name, id)` an account cursor points at.
pub(crate) fn decode_account(cursor: &str) -> Result<(String, Uuid), GatewayError> {
    decode_keyset("account", cursor)
}

/// The cursor of a row at `(text, id)` in the `(text, id)` keyset order of list `list`.
pub(crate) fn encode_keyset(list: &str, text: &str, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}:{id}:{text}"))
}

/// The `(text, id)` a keyset cursor of list `list` points at.
pub(crate) fn decode_keyset(list: &str, cursor: &str) -> Result<(String, Uuid), GatewayError> {
    let text = decode(cursor)?;
    let bad = || bad_cursor(cursor);
    let rest = text
        .strip_prefix(list)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    let (id, name) = rest.split_once(':').ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    // No account name holds a NUL, and SQLite would read one as the end of the string.
    if name.contains('\0') {
        return Err(bad());
    }
    Ok((name.to_owned(), id))
}

/// The cursor of the edge at `offset` in the list `list`.
pub(crate) fn encode_offset(list: &str, offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{list}:{offset}"))
}

/// Largest offset a cursor may point at: the next page starts one further, and SQL binds
/// offsets as signed 64-bit integers.
pub(crate) const MAX_OFFSET: u64 = i64::MAX as u64 - 1;

/// The offset an offset cursor of `list` points at (at most [`MAX_OFFSET`]).
pub(crate) fn decode_offset(list: &str, cursor: &str) -> Result<u64, GatewayError> {
    let text = decode(cursor)?;
    let bad = || bad_cursor(cursor);
    let (tag, offset) = text.split_once(':').ok_or_else(bad)?;
    if tag != list || offset.starts_with('+') {
        return Err(bad());
    }
    offset
        .parse()
        .ok()
        .filter(|o| *o <= MAX_OFFSET)
        .ok_or_else(bad)
}

fn decode(cursor: &str) -> Result<String, GatewayError> {
    let bad = || bad_cursor(cursor);
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// The error for `cursor`. Error messages echo the cursor; a huge one is cut.
fn bad_cursor(cursor: &str) -> GatewayError {
    GatewayError::BadCursor(match cursor.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &cursor[..i]),
        None => cursor.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_cursors_round_trip_names_with_colons() {
        let id = Uuid::now_v7();
        for name in ["Acme", "a:b:c", "", "Zürich AG 🏔"] {
            let c = encode_account(name, id);
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(decode_account(&c).unwrap(), (name.to_owned(), id));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Any text decodes to a cursor or to `BAD_CURSOR`, never a panic.
        #[test]
        fn decoding_never_panics(s in "\\PC{0,80}", raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)) {
            let _ = decode_offset("syncRuns", &s);
            let _ = decode_account(&s);
            let encoded = URL_SAFE_NO_PAD.encode(&raw);
            let _ = decode_offset("syncRuns", &encoded);
            let _ = decode_account(&encoded);
        }

        /// Cursors this server hands out decode to what they encode.
        #[test]
        fn cursors_round_trip(offset in 0..=MAX_OFFSET, name in "[^\\x00]{0,40}", id in proptest::prelude::any::<u128>()) {
            let c = encode_offset("revenueLedger", offset);
            proptest::prop_assert_eq!(decode_offset("revenueLedger", &c).unwrap(), offset);
            let id = Uuid::from_u128(id);
            let c = encode_account(&name, id);
            proptest::prop_assert_eq!(decode_account(&c).unwrap(), (name, id));
        }
    }

    #[test]
    fn offset_cursors_round_trip_and_belong_to_one_list() {
        let c = encode_offset("syncRuns", 41);
        assert_eq!(decode_offset("syncRuns", &c).unwrap(), 41);
        assert!(matches!(
            decode_offset("quarantine", &c),
            Err(GatewayError::BadCursor(_))
        ));
        assert!(decode_account(&c).is_err());
    }

    #[test]
    fn garbage_is_a_bad_cursor() {
        let plus = URL_SAFE_NO_PAD.encode("syncRuns:+3");
        let neg = URL_SAFE_NO_PAD.encode("syncRuns:-3");
        let no_uuid = URL_SAFE_NO_PAD.encode("account:nope:Acme");
        let nul = URL_SAFE_NO_PAD.encode("account:00000000-0000-0000-0000-000000000000:a\0");
        let huge = "A".repeat(10_000);
        let past_i64 = URL_SAFE_NO_PAD.encode("syncRuns:9223372036854775807");
        let past_u64 = URL_SAFE_NO_PAD.encode("syncRuns:18446744073709551616");
        for c in [
            "", "!!!", "%%", "bm9wZQ", &plus, &neg, &no_uuid, &nul, &huge, &past_i64, &past_u64,
        ] {
            assert!(
                matches!(
                    decode_offset("syncRuns", c),
                    Err(GatewayError::BadCursor(_))
                ),
                "{c}"
            );
            assert!(
                matches!(decode_account(c), Err(GatewayError::BadCursor(_))),
                "{c}"
            );
        }
        match decode_account(&huge) {
            Err(GatewayError::BadCursor(shown)) => assert!(shown.chars().count() <= 65),
            other => panic!("{other:?}"),
        }
    }
}
