//! Moodle's JSON to the model: the only place that knows Moodle's field names. Pure functions;
//! a record that does not map is a [`MapError`] naming the field, which becomes a reject.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tributary_connector::MapError;
use tributary_connector::map::{Fields, full_name, id_text, parse_timestamp, segment_by_employees};
use tributary_connector::pull::keyset::Position;
use tributary_connector::pull::{Emitter, Mapped};
use tributary_model::{
    Account, Entity, ExternalRef, Person, PersonRole, normalize_domain, normalize_email,
};

const TIMESTAMP: &str = "an RFC 3339 timestamp";

/// A record's id, when it has one.
pub fn record_id(raw: &Value) -> Option<String> {
    raw.get("id").and_then(id_text)
}

/// When the record last changed (or was deleted, for a tombstone).
pub fn updated_at(raw: &Value) -> Option<DateTime<Utc>> {
    raw.get("updated_at")?.as_str().and_then(parse_timestamp)
}

/// Where the record stands in the listing's `(updated_at, id)` order.
pub fn position(raw: &Value) -> Option<Position> {
    Some(Position {
        modstamp: updated_at(raw)?,
        id: record_id(raw)?,
    })
}

/// Whether the record is a tombstone (`include_deleted=true`).
pub fn is_deleted(raw: &Value) -> bool {
    raw.get("deleted").and_then(Value::as_bool) == Some(true)
}

/// What one raw record of `stream` becomes.
pub fn map_record(stream: &'static str, emit: &Emitter<'_>, raw: Value) -> Mapped {
    let Some(id) = record_id(&raw) else {
        return emit.reject(None, format!("{stream} record without an `id`"), raw);
    };
    if is_deleted(&raw) {
        return emit.delete(id);
    }
    let fields = Fields::new(&raw, stream, &id);
    let entity = match stream {
        "accounts" => map_account(&fields).map(Entity::Account),
        _ => map_person(&fields, emit.instance).map(Entity::Person),
    };
    let updated = updated_at(&raw);
    emit.mapped(id, raw, updated, entity.map(Some))
}

/// An account: `name` is required.
pub fn map_account(f: &Fields<'_>) -> Result<Account, MapError> {
    let name = f
        .text("name")
        .ok_or_else(|| f.error("name", None, "is required"))?;
    Ok(Account {
        domain: f.text("domain").as_deref().and_then(normalize_domain),
        segment: f.int("employees")?.map(segment_by_employees),
        industry: f.text("industry"),
        region: f.text("region"),
        owner: None,
        seats: None,
        created_at: f.datetime("created_at", parse_timestamp, TIMESTAMP)?,
        ..Account::named(name)
    })
}

/// A person: a valid `email` is required; `account_id` references an account of this
/// instance.
pub fn map_person(f: &Fields<'_>, instance: &str) -> Result<Person, MapError> {
    let raw_email = f.text("email");
    let email = raw_email
        .as_deref()
        .and_then(normalize_email)
        .ok_or_else(|| f.error("email", raw_email.as_deref(), "is not an email address"))?;
    Ok(Person {
        name: full_name(f.text("first_name"), f.text("last_name")),
        email: Some(email),
        title: f.text("title"),
        role: f.text("role").as_deref().and_then(PersonRole::parse),
        account: f
            .text("account_id")
            .map(|id| ExternalRef::new(crate::KIND, instance, "accounts", id)),
        first_seen_at: f.datetime("created_at", parse_timestamp, TIMESTAMP)?,
        hints: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EMIT: Emitter<'static> = Emitter {
        system: crate::KIND,
        instance: "moodle-test",
        stream: "people",
        incremental: true,
    };

    #[test]
    fn a_person_maps_with_its_account_reference() {
        let raw = json!({
            "id": "per_7", "account_id": "acc_3", "first_name": "Ada", "last_name": "Byron",
            "email": " Ada@Example.COM ", "title": "CTO", "role": "admin",
            "created_at": "2025-01-02T03:04:05.000Z", "updated_at": "2025-02-01T00:00:00.000Z",
        });
        let Mapped::Record(record) = map_record("people", &EMIT, raw) else {
            panic!("a record");
        };
        let Entity::Person(p) = &record.entity else {
            panic!("a person");
        };
        assert_eq!(p.name, "Ada Byron");
        assert_eq!(p.email.as_deref(), Some("ada@example.com"));
        assert_eq!(p.role, Some(PersonRole::Admin));
        assert_eq!(
            p.account,
            Some(ExternalRef::new(
                "moodle",
                "moodle-test",
                "accounts",
                "acc_3"
            ))
        );
        assert_eq!(record.external_ref.external_id, "per_7");
        assert_eq!(record.source_updated_at, updated_at(&record.raw));
    }

    #[test]
    fn bad_records_are_rejected_naming_the_field_and_tombstones_are_deletes() {
        let bad = json!({ "id": "per_8", "email": "not-an-address" });
        let Mapped::Reject(reject) = map_record("people", &EMIT, bad.clone()) else {
            panic!("a reject");
        };
        assert!(reject.reason.contains("email"), "{}", reject.reason);
        assert!(
            reject.reason.contains("not-an-address"),
            "{}",
            reject.reason
        );
        assert_eq!(reject.raw, bad);
        let nameless = json!({ "id": "acc_1", "name": null });
        assert!(matches!(
            map_record("accounts", &EMIT, nameless),
            Mapped::Reject(_)
        ));
        let gone = json!({ "id": "per_9", "deleted": true, "updated_at": "2025-03-01T00:00:00Z" });
        assert!(
            matches!(map_record("people", &EMIT, gone), Mapped::Delete(r) if r.external_id == "per_9")
        );
    }
}
