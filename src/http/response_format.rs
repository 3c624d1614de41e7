//! The `envelope` and `pretty` query parameters, applied to every response after the handler
//! (BEHAVIOR §4). Without them a response passes through untouched, so the common path pays
//! nothing. With them the body is re-rendered: keys in alphabetical order as Atlas writes them,
//! and with `pretty=true` in the layout of Jackson's default pretty printer.

use std::fmt::Write as _;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::AppError;

/// Bodies larger than this are passed through unformatted rather than buffered.
const MAX_REFORMAT_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutputFlags {
    pub envelope: bool,
    pub pretty: bool,
}

/// Reads a boolean query value as Atlas's Java stack does (`Boolean.valueOf`): `true` in any
/// letter case is true, anything else false. Most operations document no 400, so a bad value
/// must not become one.
pub fn parse_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

impl OutputFlags {
    /// Reads the flags as the handlers read every other parameter: percent-decoded, the first
    /// of a repeated name winning. A query that does not decode sets no flag (the handler
    /// answers it).
    pub fn from_query(query: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
        let first = |wanted: &str| {
            pairs
                .iter()
                .find(|(name, _)| name == wanted)
                .is_some_and(|(_, value)| parse_bool(value))
        };
        Self {
            envelope: first("envelope"),
            pretty: first("pretty"),
        }
    }
}

/// Runs `handler` and renders its answer as the request's `envelope` and `pretty` ask.
pub async fn format_response<F>(request: Request, handler: impl FnOnce(Request) -> F) -> Response
where
    F: Future<Output = Response>,
{
    let flags = OutputFlags::from_query(request.uri().query());
    let response = handler(request).await;
    if flags == OutputFlags::default() {
        return response;
    }
    reformat(response, flags).await
}

async fn reformat(response: Response, flags: OutputFlags) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_REFORMAT_BYTES).await else {
        return AppError::Internal(anyhow::anyhow!("response body could not be buffered"))
            .into_response();
    };
    let status = parts.status;
    let mut value = if bytes.is_empty() {
        if !(flags.envelope && status == StatusCode::NO_CONTENT) {
            return Response::from_parts(parts, Body::from(bytes));
        }
        // A 204 cannot carry the envelope, so it becomes a 200 that names the real status.
        parts.status = StatusCode::OK;
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => value,
            Err(_) => return Response::from_parts(parts, Body::from(bytes)),
        }
    };
    if flags.envelope {
        value = wrap_in_envelope(value, status);
    }
    let mut out = String::with_capacity(bytes.len() * 2 + 32);
    if flags.pretty {
        write_pretty(&mut out, &value, 0);
    } else {
        write_compact(&mut out, &value);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// A paginated body keeps its shape and gains `status`; anything else becomes
/// `{"content": …, "status": …}`.
fn wrap_in_envelope(value: Value, status: StatusCode) -> Value {
    let status = Value::from(status.as_u16());
    match value {
        Value::Object(mut map) if map.contains_key("results") => {
            map.insert("status".to_owned(), status);
            Value::Object(map)
        }
        content => {
            let mut map = Map::new();
            map.insert("content".to_owned(), content);
            map.insert("status".to_owned(), status);
            Value::Object(map)
        }
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

fn write_scalar(out: &mut String, value: &Value) {
    // Serializing a scalar or a string into a String cannot fail.
    let _ = write!(out, "{value}");
}

fn write_compact(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in sorted(map).into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_scalar(out, &Value::String(key.clone()));
                out.push(':');
                write_compact(out, item);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_compact(out, item);
            }
            out.push(']');
        }
        scalar => write_scalar(out, scalar),
    }
}

/// Jackson's `DefaultPrettyPrinter`: objects indent two spaces per object level with
/// `"key" : value`; arrays stay inline (`[ 1, 2 ]`, `[ {` … `} ]`) and add no indentation level;
/// empty containers are `{ }` and `[ ]`.
fn write_pretty(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if map.is_empty() => out.push_str("{ }"),
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in sorted(map).into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push('\n');
                push_indent(out, level + 1);
                write_scalar(out, &Value::String(key.clone()));
                out.push_str(" : ");
                write_pretty(out, item, level + 1);
            }
            out.push('\n');
            push_indent(out, level);
            out.push('}');
        }
        Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Value::Array(items) => {
            out.push_str("[ ");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_pretty(out, item, level);
            }
            out.push_str(" ]");
        }
        scalar => write_scalar(out, scalar),
    }
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pretty(value: &Value) -> String {
        let mut out = String::new();
        write_pretty(&mut out, value, 0);
        out
    }

    #[test]
    fn objects_and_arrays_print_as_jackson_prints_them() {
        let value = json!({
            "results": [],
            "links": [{"rel": "self", "href": "http://x/y"}],
            "totalCount": 1,
            "roles": ["ORG_OWNER", "ORG_MEMBER"],
            "nested": {}
        });
        assert_eq!(
            pretty(&value),
            "{\n  \"links\" : [ {\n    \"href\" : \"http://x/y\",\n    \"rel\" : \"self\"\n  } ],\n  \"nested\" : { },\n  \"results\" : [ ],\n  \"roles\" : [ \"ORG_OWNER\", \"ORG_MEMBER\" ],\n  \"totalCount\" : 1\n}"
        );
    }

    #[test]
    fn a_top_level_array_of_objects_keeps_objects_at_the_first_level() {
        let value = json!([{"a": 1}, {"b": null}]);
        assert_eq!(
            pretty(&value),
            "[ {\n  \"a\" : 1\n}, {\n  \"b\" : null\n} ]"
        );
    }

    #[test]
    fn envelopes_wrap_entities_and_extend_pages() {
        assert_eq!(
            wrap_in_envelope(json!({"id": "x"}), StatusCode::OK),
            json!({"content": {"id": "x"}, "status": 200})
        );
        assert_eq!(
            wrap_in_envelope(json!([1]), StatusCode::OK),
            json!({"content": [1], "status": 200})
        );
        assert_eq!(
            wrap_in_envelope(json!({"results": [], "totalCount": 0}), StatusCode::OK),
            json!({"results": [], "status": 200, "totalCount": 0})
        );
    }

    #[test]
    fn compact_output_sorts_keys_and_escapes_strings() {
        let mut out = String::new();
        write_compact(&mut out, &json!({"b": "q\"uote", "a": [1, 2]}));
        assert_eq!(out, r#"{"a":[1,2],"b":"q\"uote"}"#);
    }

    #[test]
    fn flags_are_percent_decoded_and_the_first_of_a_repeated_name_wins() {
        let flags = OutputFlags::from_query(Some("pretty=%74rue&envelope=TR%55E"));
        assert!(flags.pretty && flags.envelope);
        let flags =
            OutputFlags::from_query(Some("pretty=false&pretty=true&envelope=true&envelope=no"));
        assert!(!flags.pretty && flags.envelope);
    }

    proptest::proptest! {
        #[test]
        fn a_flag_is_set_only_by_a_true_value((query, pretty, envelope) in flag_query()) {
            let flags = OutputFlags::from_query(Some(&query));
            proptest::prop_assert_eq!(flags.pretty, pretty, "pretty in {:?}", query);
            proptest::prop_assert_eq!(flags.envelope, envelope, "envelope in {:?}", query);
        }

        #[test]
        fn pretty_output_is_the_same_json(value in json_value()) {
            let mut out = String::new();
            write_pretty(&mut out, &value, 0);
            let reparsed: Value = serde_json::from_str(&out).expect("pretty output is JSON");
            proptest::prop_assert_eq!(reparsed, value);
        }
    }

    /// One flag's part of a query, `=value` (or nothing, for a bare name), and whether it sets
    /// the flag, by the rule in docs/compatibility.md written out as cases: `true` in any letter
    /// case sets it; near misses (other spellings, padding, `1`, empty) and absence do not.
    fn flag_part() -> impl proptest::strategy::Strategy<Value = Option<(String, bool)>> {
        use proptest::prelude::*;
        prop_oneof![
            4 => "[tT][rR][uU][eE]".prop_map(|value| Some((format!("={value}"), true))),
            3 => proptest::sample::select(vec![
                "=truee", "=tru", "=ttrue", "=1", "=", "=yes", "=on", "=t", "=false", "=FALSE",
                "=null", "=+true", "=true+", "=%20true", "",
            ])
            .prop_map(|part| Some((part.to_owned(), false))),
            2 => Just(None),
        ]
    }

    /// A query holding each flag at most once, other parameters (some named almost like a flag)
    /// and empty segments, in any order; with whether `pretty` and `envelope` are set.
    fn flag_query() -> impl proptest::strategy::Strategy<Value = (String, bool, bool)> {
        use proptest::prelude::*;
        let other = "[a-zA-Z]{1,8}=[a-zA-Z0-9]{0,6}".prop_filter("not a flag", |pair| {
            !pair.starts_with("pretty=") && !pair.starts_with("envelope=")
        });
        let near_name = proptest::sample::select(vec![
            "Pretty=true",
            "PRETTY=true",
            "prettyy=true",
            "xpretty=true",
            "pretty_=true",
            "Envelope=true",
            "envelopes=true",
            "ENVELOPE=TRUE",
            "",
        ])
        .prop_map(str::to_owned);
        (
            flag_part(),
            flag_part(),
            proptest::collection::vec(other, 0..3),
            proptest::collection::vec(near_name, 0..3),
        )
            .prop_flat_map(|(pretty, envelope, others, near)| {
                let mut pairs: Vec<String> = others.into_iter().chain(near).collect();
                if let Some((part, _)) = &pretty {
                    pairs.push(format!("pretty{part}"));
                }
                if let Some((part, _)) = &envelope {
                    pairs.push(format!("envelope{part}"));
                }
                let set = |flag: &Option<(String, bool)>| flag.as_ref().is_some_and(|(_, on)| *on);
                let (pretty, envelope) = (set(&pretty), set(&envelope));
                Just(pairs)
                    .prop_shuffle()
                    .prop_map(move |pairs| (pairs.join("&"), pretty, envelope))
            })
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z]{1,6}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn flags_accept_any_case_and_read_other_values_as_false() {
        let flags = OutputFlags::from_query(Some("pretty=TRUE&envelope=True&x=1"));
        assert_eq!(
            flags,
            OutputFlags {
                envelope: true,
                pretty: true
            }
        );
        for other in ["pretty=yes", "pretty=null", "pretty=1", "pretty"] {
            assert_eq!(
                OutputFlags::from_query(Some(other)),
                OutputFlags::default(),
                "{other}"
            );
        }
    }
}
