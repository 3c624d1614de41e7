//! Body parsing against `Sample`'s schema written out as a table, and the query accessors.

use super::*;
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Sample {
    username: Option<String>,
    roles: Option<Vec<String>>,
    nested: Option<Vec<Inner>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Inner {
    group_id: Option<String>,
}

impl RequestBody for Sample {
    const READ_ONLY: &'static [&'static str] = &["id", "links"];
    const FIXED: &'static [&'static str] = &["fixed"];
}

#[test]
fn each_kind_of_bad_body_has_its_own_code() {
    assert!(matches!(
        parse_body::<Sample>(b"{"),
        Err(AppError::MalformedJson)
    ));
    assert!(matches!(
        parse_body::<Sample>(b""),
        Err(AppError::MalformedJson)
    ));
    assert!(matches!(
        parse_body::<Sample>(b"[1]"),
        Err(AppError::InvalidJson)
    ));
    assert!(matches!(
        parse_body::<Sample>(b"\"text\""),
        Err(AppError::InvalidJson)
    ));
    assert!(matches!(
        parse_body::<Sample>(br#"{"roles": "ORG_OWNER"}"#),
        Err(AppError::InvalidJsonAttribute(path)) if path == "roles"
    ));
    assert!(matches!(
        parse_body::<Sample>(br#"{"nested": [{"groupId": 5}]}"#),
        Err(AppError::InvalidJsonAttribute(path)) if path == "nested[0].groupId"
    ));
    assert!(matches!(
        parse_body::<Sample>(br#"{"colour": "red"}"#),
        Err(AppError::InvalidAttribute(name)) if name == "colour"
    ));
    assert!(matches!(
        parse_body::<Sample>(br#"{"fixed": "x"}"#),
        Err(AppError::AttributeReadOnly(name)) if name == "fixed"
    ));
    assert!(matches!(
        parse_body::<Sample>(br#"{"nested": [{"groupId": null, "colour": 1}]}"#),
        Err(AppError::InvalidAttribute(name)) if name.ends_with("colour")
    ));
}

#[test]
fn server_set_attributes_are_ignored_at_any_depth_with_any_value() {
    for body in [
        r#"{"id": "x"}"#,
        r#"{"id": ""}"#,
        r#"{"id": 0, "links": []}"#,
        r#"{"id": {"a": [1]}, "username": "u@example.com"}"#,
        r#"{"nested": [{"groupId": null, "links": [{"rel": "self"}]}]}"#,
    ] {
        let parsed = parse_body::<Sample>(body.as_bytes());
        assert!(parsed.is_ok(), "{body}: {:?}", parsed.err());
    }
    let sample =
        parse_body::<Sample>(br#"{"id": "x", "username": "u@example.com"}"#).expect("valid");
    assert_eq!(sample.username.as_deref(), Some("u@example.com"));
}

#[test]
fn nulls_and_missing_fields_are_absent() {
    let sample = parse_body::<Sample>(br#"{"username": null}"#).expect("valid");
    assert!(sample.username.is_none() && sample.roles.is_none());
}

/// What a body parse came to, comparable with what the rules say it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Parsed,
    MalformedJson,
    InvalidJson,
    InvalidJsonAttribute(String),
    InvalidAttribute(String),
    AttributeReadOnly(String),
    Other(String),
}

fn outcome(result: Result<Sample, AppError>) -> Outcome {
    match result {
        Ok(_) => Outcome::Parsed,
        Err(AppError::MalformedJson) => Outcome::MalformedJson,
        Err(AppError::InvalidJson) => Outcome::InvalidJson,
        Err(AppError::InvalidJsonAttribute(path)) => Outcome::InvalidJsonAttribute(path),
        Err(AppError::InvalidAttribute(name)) => Outcome::InvalidAttribute(name),
        Err(AppError::AttributeReadOnly(name)) => Outcome::AttributeReadOnly(name),
        Err(other) => Outcome::Other(format!("{other:?}")),
    }
}

/// The JSON kinds a field value can take, as far as `Sample`'s fields tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    Text,
    Object,
    EmptyArray,
    ArrayOfText,
    ArrayOfNumbers,
    ArrayOfInners,
    ArrayOfInnersWithNumericGroupId,
}

fn value_of(kind: Kind) -> BoxedStrategy<serde_json::Value> {
    use serde_json::{Value, json};
    match kind {
        Kind::Null => Just(Value::Null).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Number => prop_oneof![
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
        ]
        .boxed(),
        Kind::Text => "\\PC{0,12}".prop_map(Value::from).boxed(),
        Kind::Object => proptest::collection::btree_map("[a-z]{1,5}", "[a-z]{0,5}", 0..3)
            .prop_map(|map| json!(map))
            .boxed(),
        Kind::EmptyArray => Just(json!([])).boxed(),
        Kind::ArrayOfText => proptest::collection::vec("[A-Z_]{0,12}", 1..4)
            .prop_map(|items| json!(items))
            .boxed(),
        Kind::ArrayOfNumbers => proptest::collection::vec(any::<i32>(), 1..4)
            .prop_map(|items| json!(items))
            .boxed(),
        Kind::ArrayOfInners => {
            proptest::collection::vec(proptest::option::of("[a-f0-9]{24}"), 1..3)
                .prop_map(|ids| {
                    json!(
                        ids.iter()
                            .map(|id| json!({"groupId": id}))
                            .collect::<Vec<_>>()
                    )
                })
                .boxed()
        }
        Kind::ArrayOfInnersWithNumericGroupId => {
            any::<i32>().prop_map(|id| json!([{"groupId": id}])).boxed()
        }
    }
}

const KINDS: [Kind; 10] = [
    Kind::Null,
    Kind::Bool,
    Kind::Number,
    Kind::Text,
    Kind::Object,
    Kind::EmptyArray,
    Kind::ArrayOfText,
    Kind::ArrayOfNumbers,
    Kind::ArrayOfInners,
    Kind::ArrayOfInnersWithNumericGroupId,
];

/// `Sample`'s schema written out as a table: what a body with `key` set to a value of
/// `kind` must come to. Absent and `null` are the same; a wrong element names its index.
fn expected(key: &str, kind: Kind) -> Outcome {
    let wrong = |path: &str| Outcome::InvalidJsonAttribute(path.to_owned());
    match (key, kind) {
        ("id", _) => Outcome::Parsed,
        ("fixed", _) => Outcome::AttributeReadOnly("fixed".to_owned()),
        ("colour", _) => Outcome::InvalidAttribute("colour".to_owned()),
        (_, Kind::Null) => Outcome::Parsed,
        ("username", Kind::Text) => Outcome::Parsed,
        ("username", _) => wrong("username"),
        ("roles" | "nested", Kind::EmptyArray) => Outcome::Parsed,
        ("roles", Kind::ArrayOfText) => Outcome::Parsed,
        ("roles", Kind::ArrayOfNumbers | Kind::ArrayOfInners) => wrong("roles[0]"),
        ("nested", Kind::ArrayOfInners) => Outcome::Parsed,
        ("nested", Kind::ArrayOfInnersWithNumericGroupId) => wrong("nested[0].groupId"),
        ("nested", Kind::ArrayOfText | Kind::ArrayOfNumbers) => wrong("nested[0]"),
        ("roles", Kind::ArrayOfInnersWithNumericGroupId) => wrong("roles[0]"),
        (key, _) => wrong(key),
    }
}

/// A well-formed object: each known field absent or well-typed, plus at most one field
/// (known, read-only or unknown) set to a value of any kind; with what it must come to.
fn object_body() -> impl Strategy<Value = (serde_json::Value, Outcome)> {
    let good_username = proptest::option::of("[a-z]{1,8}@example\\.com");
    let good_roles = proptest::option::of(proptest::collection::vec("ORG_[A-Z]{1,8}", 0..3));
    let suspect = proptest::option::of((
        proptest::sample::select(vec!["username", "roles", "nested", "id", "fixed", "colour"]),
        proptest::sample::select(KINDS.to_vec()),
    ));
    (good_username, good_roles, suspect).prop_flat_map(|(username, roles, suspect)| {
        let mut body = serde_json::Map::new();
        if let Some(username) = username {
            body.insert("username".to_owned(), username.into());
        }
        if let Some(roles) = roles {
            body.insert("roles".to_owned(), serde_json::json!(roles));
        }
        match suspect {
            None => Just((serde_json::Value::Object(body), Outcome::Parsed)).boxed(),
            Some((key, kind)) => value_of(kind)
                .prop_map(move |value| {
                    let mut body = body.clone();
                    body.insert(key.to_owned(), value);
                    (serde_json::Value::Object(body), expected(key, kind))
                })
                .boxed(),
        }
    })
}

/// A count parameter's value, with the number it must parse to (`None`: refused).
fn count_value() -> impl Strategy<Value = (String, Option<u32>)> {
    prop_oneof![
        3 => any::<u32>().prop_map(|n| (n.to_string(), Some(n))),
        1 => (0u32..1000, 1usize..4).prop_map(|(n, zeros)| (format!("{}{n}", "0".repeat(zeros)), Some(n))),
        2 => (u64::from(u32::MAX) + 1..=u64::MAX).prop_map(|n| (n.to_string(), None)),
        1 => "-[1-9][0-9]{0,6}".prop_map(|v| (v, None)),
        2 => "[0-9]{0,3}[a-zA-Z .,_%-][0-9]{0,3}".prop_map(|v| (v, None)),
        1 => proptest::sample::select(vec!["", "null", "1.5", "1e3", "0x10", "one", "\u{661}\u{662}"])
            .prop_map(|v| (v.to_owned(), None)),
    ]
}

/// A flag's value with whether it reads as true, by docs/compatibility.md written out as
/// cases: `true` in any letter case, nothing else (near misses included).
fn flag_value() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        1 => "[tT][rR][uU][eE]".prop_map(|v| (v, true)),
        1 => proptest::sample::select(vec![
            "", "truee", "tru", "ttrue", " true", "true ", "1", "yes", "on", "t", "false",
            "FALSE", "null",
        ])
        .prop_map(|v| (v.to_owned(), false)),
    ]
}

proptest! {
    #[test]
    fn counts_parse_or_name_the_parameter((value, number) in count_value()) {
        let query = QueryParams::from_pairs(&[("pageNum", value.as_str())]);
        match query.count("pageNum") {
            Ok(parsed) => prop_assert_eq!(parsed, number, "{:?}", value),
            Err(AppError::InvalidQueryParameter(name)) => {
                prop_assert_eq!(name, "pageNum");
                prop_assert_eq!(number, None, "{:?} was refused", value);
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
        prop_assert_eq!(QueryParams::default().count("pageNum").ok(), Some(None));
    }

    #[test]
    fn flags_are_true_only_for_true_in_any_case((value, on) in flag_value(), default in any::<bool>()) {
        let query = QueryParams::from_pairs(&[("includeCount", value.as_str())]);
        prop_assert_eq!(query.flag("includeCount", default), on, "{:?}", value);
        prop_assert_eq!(QueryParams::default().flag("includeCount", default), default);
    }

    #[test]
    fn well_formed_objects_fail_on_the_field_the_schema_refuses((body, expected) in object_body()) {
        let bytes = body.to_string();
        prop_assert_eq!(outcome(parse_body::<Sample>(bytes.as_bytes())), expected, "{}", bytes);
    }

    #[test]
    fn json_that_is_not_an_object_is_invalid_json(
        kind in proptest::sample::select(KINDS.iter().copied().filter(|k| *k != Kind::Object).collect::<Vec<_>>())
            .prop_flat_map(value_of)
    ) {
        let bytes = kind.to_string();
        prop_assert_eq!(outcome(parse_body::<Sample>(bytes.as_bytes())), Outcome::InvalidJson, "{}", bytes);
    }

    #[test]
    fn a_broken_object_is_malformed_json(
        (body, _) in object_body(),
        cut in any::<proptest::sample::Index>(),
        tail in proptest::sample::select(vec!["", ",", "x", ",}"]),
    ) {
        // Cut anywhere before its closing brace, an object stays unclosed; none of the
        // tails can close it.
        let text = body.to_string();
        let ends: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        let broken = format!("{}{tail}", &text[..ends[cut.index(ends.len())]]);
        prop_assert_eq!(outcome(parse_body::<Sample>(broken.as_bytes())), Outcome::MalformedJson, "{}", broken);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_body::<Sample>(&bytes);
    }
}
