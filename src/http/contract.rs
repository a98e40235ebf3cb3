//! The API's conventions written once into the OpenAPI document: every query or path parameter
//! with a conventional name gets the same declared constraints wherever it appears (`limit` is
//! 1–100, `date`/`from`/`to` are calendar days, `week` an ISO week, ids are UUIDs, ...), so a
//! client generator or a schema-based fuzzer never builds a request that the document calls valid
//! and the server refuses.

use salvo::oapi::OpenApi;
use serde_json::{Value, json};

/// A calendar day in the years 1900–9999 (`YYYY-MM-DD`; the server also checks the day exists).
pub const DATE_PATTERN: &str = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
/// An ISO week in the years 1900–9999 (`YYYY-Www`; week 53 also where the year has one).
pub const WEEK_PATTERN: &str = "^(19|[2-9][0-9])[0-9]{2}-W(0[1-9]|[1-4][0-9]|5[0-2])$";
/// A month in the years 1900–9999 (`YYYY-MM`).
pub const MONTH_PATTERN: &str = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])$";

/// A UUID (any version; the API's ids are UUIDv7).
pub const UUID_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// An RFC 3339 time in the years 1900–9999.
pub const DATE_TIME_PATTERN: &str = "^(19|[2-9][0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";
/// An e-mail address as the server accepts it (one `@`, a dot in the domain, no spaces).
pub const EMAIL_PATTERN: &str = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$";
/// A time of day, `HH:MM` (24-hour).
pub const TIME_OF_DAY_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// In OpenAPI 3.1 (JSON Schema 2020-12) `format` only annotates: a validator or fuzzer treats
/// `""` as a valid `uuid`. The pattern for each format the server checks makes it a constraint.
fn pattern_for_format(format: &str) -> Option<&'static str> {
    match format {
        "uuid" => Some(UUID_PATTERN),
        "date" => Some(DATE_PATTERN),
        "date-time" => Some(DATE_TIME_PATTERN),
        "email" => Some(EMAIL_PATTERN),
        _ => None,
    }
}

/// Adds the pattern of its `format` to every string schema in `v` that has none.
fn patterns_for_formats(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let pattern = map.get("format").and_then(Value::as_str).and_then(pattern_for_format);
            if let Some(p) = pattern {
                map.entry("pattern").or_insert_with(|| json!(p));
            }
            map.values_mut().for_each(patterns_for_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(patterns_for_formats),
        _ => {}
    }
}

/// A tag as sent: at most 32 characters, something besides spaces and `#`, no commas or
/// control characters.
pub const TAG_PATTERN: &str = "^[^,\\u0000-\\u001f\\u007f]*[^\\s#,\\u0000-\\u001f\\u007f][^,\\u0000-\\u001f\\u007f]*$";

/// Every `tags` array property (notes, activity logs) gets the tag rule for its items.
fn tag_items(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(tags) = map.get_mut("properties").and_then(|p| p.get_mut("tags")) {
                tags["items"] = json!({"type": "string", "maxLength": 32, "pattern": TAG_PATTERN});
            }
            map.values_mut().for_each(tag_items);
        }
        Value::Array(items) => items.iter_mut().for_each(tag_items),
        _ => {}
    }
}

/// The declared schema of a parameter by its name and place (and the operation's path, where
/// one differs), where the API has a convention.
fn parameter_schema(path: &str, name: &str, place: &str) -> Option<Value> {
    Some(match (name, place) {
        ("limit", "query") => json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
        ("cursor", "query") => json!({"type": "string", "minLength": 1, "maxLength": 300}),
        ("date", "path") | ("from", "query") | ("to", "query") => {
            json!({"type": "string", "format": "date", "pattern": DATE_PATTERN, "description": "days 29–31 are accepted too where the month has them"})
        }
        ("week", "query") => json!({"type": "string", "pattern": WEEK_PATTERN}),
        ("month", "query") => json!({"type": "string", "pattern": MONTH_PATTERN}),
        ("theme", "query") => json!({"type": "string", "enum": ["light", "dark"]}),
        ("direction", "query") => json!({"type": "string", "enum": ["incoming", "outgoing"]}),
        ("status", "query") => json!({"type": "string", "enum": ["active", "completed", "failed"]}),
        ("q", "query") => json!({"type": "string", "maxLength": if path.ends_with("/notes/search") { 200 } else { 100 }}),
        ("author", "query") => json!({"type": "string", "pattern": format!("^me$|{UUID_PATTERN}")}),
        ("width", "query") => json!({"type": "integer", "minimum": 320, "maximum": 1600}),
        ("before" | "after", "query") | ("id" | "mid" | "user_id", "path") => json!({"type": "string", "format": "uuid"}),
        _ => return None,
    })
}

/// Applies [`parameter_schema`] to every operation of `doc`, then the pattern of each checked
/// `format` everywhere.
pub fn constrain(doc: OpenApi) -> OpenApi {
    let Ok(mut v) = serde_json::to_value(&doc) else { return doc };
    let Some(paths) = v.get_mut("paths").and_then(Value::as_object_mut) else { return doc };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        let Some(ops) = item.as_object_mut() else { continue };
        for op in ops.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for p in params {
                let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str()) else { continue };
                if let Some(mut schema) = parameter_schema(path, name, place) {
                    if let Some(note) = schema.as_object_mut().and_then(|s| s.remove("description")) {
                        let d = p["description"].as_str().unwrap_or_default();
                        p["description"] = json!(format!("{d} ({})", note.as_str().unwrap_or_default()).trim_start());
                    }
                    p["schema"] = schema;
                }
            }
        }
    }
    patterns_for_formats(&mut v);
    tag_items(&mut v);
    serde_json::from_value(v).unwrap_or(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern).unwrap().is_match(s)
    }

    #[test]
    fn patterns_accept_what_the_server_accepts_and_nothing_it_refuses() {
        for ok in ["1900-01-01", "2026-02-28", "9999-12-28"] {
            assert!(matches(DATE_PATTERN, ok), "{ok}");
            assert!(crate::service::activity::parse_date(ok, "date").is_ok(), "{ok}");
        }
        for bad in ["1899-12-31", "2026-13-01", "2026-00-10", "26-01-01", "", "2026-1-1"] {
            assert!(!matches(DATE_PATTERN, bad), "{bad}");
        }
        assert!(matches(UUID_PATTERN, &crate::ids::new_id().to_string()) && !matches(UUID_PATTERN, ""));
        assert!(matches(DATE_TIME_PATTERN, "2026-12-24T08:00:00Z") && matches(DATE_TIME_PATTERN, "2026-12-24T08:00:00.5+01:00"));
        assert!(!matches(DATE_TIME_PATTERN, "2026-12-24") && !matches(DATE_TIME_PATTERN, ""));
        assert!(matches(EMAIL_PATTERN, "ana@school.org") && !matches(EMAIL_PATTERN, "ana@school") && !matches(EMAIL_PATTERN, ""));
        assert!(matches(TIME_OF_DAY_PATTERN, "07:00") && matches(TIME_OF_DAY_PATTERN, "23:59") && !matches(TIME_OF_DAY_PATTERN, "24:00"));
        assert!(
            matches(TAG_PATTERN, "exam") && matches(TAG_PATTERN, " #a b") && !matches(TAG_PATTERN, " # ") && !matches(TAG_PATTERN, "a,b")
        );
        assert!(matches(WEEK_PATTERN, "2026-W01") && matches(WEEK_PATTERN, "2025-W52") && !matches(WEEK_PATTERN, "2026-W00"));
        assert!(matches(MONTH_PATTERN, "2026-11") && !matches(MONTH_PATTERN, "2026-13") && !matches(MONTH_PATTERN, "1899-12"));
    }
}
