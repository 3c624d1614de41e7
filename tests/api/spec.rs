//! Validates every JSON body the tests receive against the Atlas OpenAPI files vendored in
//! `spec/atlas` (or the folder `ORGDOOR_ATLAS_SPEC_DIR` names), by the operation the request
//! reached and the status it got.
//!
//! OpenAPI 3.0 schemas are turned into JSON Schema (draft 7): `nullable` becomes a `null` type,
//! write-only properties stop being required in responses. Two documented spec artifacts are
//! relaxed (see docs/compatibility.md): `ApiError.parameters` items are any JSON value (Atlas
//! sends strings and numbers where the spec's Java origin says `object`), and `inviterUsername`
//! is not checked as an e-mail address (Atlas sends the inviting API key's public key).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value};

pub struct Spec {
    document: Value,
    components: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn spec_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("ORGDOOR_ATLAS_SPEC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("spec/atlas"))
}

pub static V2: LazyLock<Spec> = LazyLock::new(|| Spec::load("org-access.v2.openapi.yaml"));
pub static V1: LazyLock<Spec> = LazyLock::new(|| Spec::load("org-access.v1.openapi.yaml"));
/// orgdoor's own API (`spec/orgdoor`), where it documents an operation.
pub static ORGDOOR: LazyLock<Spec> = LazyLock::new(|| {
    Spec::load_path(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/orgdoor/orgdoor.v1.openapi.yaml"),
    )
});
/// Further v2 operations (project API keys, events, project teams and users, look-ups by name).
pub static SUPPLEMENT: LazyLock<Spec> =
    LazyLock::new(|| Spec::load("org-access-supplement.v2.openapi.yaml"));

/// The v2 document that documents a response: the main one, else the supplement. The
/// supplement keeps only an operation's newest version; older ones orgdoor also serves fall to
/// the main document's hand-written descriptions (`unlisted_schema`).
fn v2_for(method: &str, path: &str, status: u16, content_type: &str) -> &'static Spec {
    let in_supplement = || {
        SUPPLEMENT.template(path).is_some()
            && SUPPLEMENT
                .response_schema(method, path, status, content_type)
                .is_ok()
    };
    if V2.template(path).is_none() && in_supplement() {
        &SUPPLEMENT
    } else {
        &V2
    }
}

/// Rewrites OpenAPI 3.0 schema keywords into JSON Schema draft 7.
fn convert(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for value in map.values_mut() {
                convert(value);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(kind)) = map.get("type").cloned() {
                    map.insert(
                        "type".into(),
                        Value::Array(vec![Value::String(kind), Value::String("null".into())]),
                    );
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert(
                        "anyOf".into(),
                        Value::Array(vec![inner, serde_json::json!({"type": "null"})]),
                    );
                }
            }
            // A write-only property is never in a response, so it cannot be required there.
            let write_only: Vec<String> = map
                .get("properties")
                .and_then(Value::as_object)
                .map(|properties| {
                    properties
                        .iter()
                        .filter(|(_, property)| {
                            property.get("writeOnly") == Some(&Value::Bool(true))
                        })
                        .map(|(name, _)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(Value::Array(required)) = map.get_mut("required") {
                required
                    .retain(|name| !write_only.iter().any(|w| Some(w.as_str()) == name.as_str()));
            }
            if let Some(Value::Object(properties)) = map.get_mut("properties")
                && let Some(Value::Object(inviter)) = properties.get_mut("inviterUsername")
            {
                inviter.remove("format");
            }
            map.remove("discriminator");
        }
        Value::Array(items) => items.iter_mut().for_each(convert),
        _ => {}
    }
}

impl Spec {
    fn load(file: &str) -> Spec {
        Self::load_path(&spec_dir().join(file))
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "reads the vendored spec once, outside any request"
    )]
    fn load_path(path: &Path) -> Spec {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        let document: Value = serde_yaml::from_str(&text).expect("the spec is valid YAML");
        let mut components = document["components"].clone();
        convert(&mut components);
        if let Some(parameters) =
            components.pointer_mut("/schemas/ApiError/properties/parameters/items")
        {
            *parameters = Value::Object(Map::new());
        }
        Spec {
            document,
            components,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The spec path template a concrete path matches (`/orgs/5f…/invites` → `/orgs/{orgId}/invites`).
    fn template(&self, path: &str) -> Option<String> {
        let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.document["paths"].as_object()?;
        paths
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == wanted.len()
                    && parts
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| segment_matches(t, w))
            })
            .min_by_key(|template| template.matches('{').count())
            .cloned()
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.document.pointer(pointer).unwrap_or(&Value::Null)
            }
            None => value,
        }
    }

    /// The schema for a response, or that of `ApiError` for an error the operation does not
    /// list (406, 405, 503, …).
    fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
    ) -> Result<(String, Value), String> {
        let api_error = (
            "ApiError".to_owned(),
            serde_json::json!({"$ref": "#/components/schemas/ApiError"}),
        );
        let Some(template) = self.template(path) else {
            return if status >= 400 {
                Ok(api_error)
            } else if let Some((name, schema)) = unlisted_schema(path) {
                Ok((format!("{method} {name}"), schema))
            } else {
                Err(format!("{path} is not in the spec"))
            };
        };
        let operation = &self.document["paths"][&template][method.to_lowercase()];
        let response = operation["responses"]
            .get(status.to_string())
            .map(|r| self.resolve(r));
        let Some(response) = response else {
            return if status >= 400 {
                Ok(api_error)
            } else {
                Err(format!(
                    "{method} {template} does not document status {status}"
                ))
            };
        };
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        let content = &response["content"];
        let schema = content
            .get(media_type)
            .or_else(|| {
                content
                    .as_object()
                    .and_then(|c| c.values().next())
                    .filter(|_| status >= 400)
            })
            .map(|media| media["schema"].clone())
            .ok_or_else(|| {
                format!("{method} {template} {status} has no content for {media_type}")
            })?;
        Ok((format!("{method} {template} {status} {media_type}"), schema))
    }

    /// Panics with a readable message when `body` does not match the documented response.
    pub fn check(&self, method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
        let (key, schema) = self
            .response_schema(method, path, status, content_type)
            .unwrap_or_else(|problem| panic!("no schema for the response: {problem}"));
        let validator = {
            let mut cache = self.validators.lock().unwrap();
            cache
                .entry(key.clone())
                .or_insert_with(|| {
                    let mut converted = schema;
                    convert(&mut converted);
                    let root =
                        serde_json::json!({"allOf": [converted], "components": self.components});
                    Arc::new(
                        jsonschema::options()
                            .with_draft(jsonschema::Draft::Draft7)
                            .should_validate_formats(true)
                            .build(&root)
                            .unwrap_or_else(|error| {
                                panic!("schema for {key} does not compile: {error}")
                            }),
                    )
                })
                .clone()
        };
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|error| format!("{} at {}", error, error.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "response of {key} violates the spec:\n{}\nbody: {body}",
            errors.join("\n")
        );
    }
}

/// A template segment matches a path segment: literally, or as a parameter with an optional
/// literal suffix (`{userId}:addRole`). Atlas ids never hold a colon, so a bare parameter does
/// not swallow an action suffix; only an IPv6 access-list entry (`2001:db8::1`, or a block
/// `2001:db8::%2F32`) does.
fn segment_matches(template: &str, actual: &str) -> bool {
    if template == actual {
        return true;
    }
    let Some(rest) = template.strip_prefix('{') else {
        return false;
    };
    let Some((_, suffix)) = rest.split_once('}') else {
        return false;
    };
    if suffix.is_empty() {
        let address = actual.split('%').next().unwrap_or_default();
        !actual.contains(':') || address.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        actual.len() > suffix.len() && actual.ends_with(suffix)
    }
}

/// Schemas for answers of paths the cut leaves out, by what they are: the user look-ups clients
/// call before inviting, orgdoor's own invitation hook, project look-up by name, and project
/// teams and users. Atlas's `TeamRole` is not in the cut, so it is written out here.
fn unlisted_schema(path: &str) -> Option<(&'static str, Value)> {
    let component =
        |name: &str| serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "api", "atlas", "v2", "users", ..] => Some(("user", component("CloudAppUser"))),
        ["", "api", "orgdoor", "v1", ..] => Some(("orgdoor hook", component("OrgUserResponse"))),
        ["", "api", "atlas", "v2", "orgs", _, "teams", action]
            if action.ends_with(":addUser") || action.ends_with(":removeUser") =>
        {
            Some(("team membership", component("OrgUserResponse")))
        }
        ["", "api", "atlas", "v2", "groups", "byName", _] => {
            Some(("group by name", component("Group")))
        }
        ["", "api", "atlas", "v2", "groups", _, "users"] => {
            Some(("project users", component("PaginatedAppUserView")))
        }
        ["", "api", "atlas", "v2", "groups", _, "teams", ..] => Some((
            "project teams",
            serde_json::json!({
                "type": "object",
                "required": ["links", "results"],
                "additionalProperties": false,
                "properties": {
                    "links": {"type": "array", "items": component("Link")},
                    "totalCount": {"type": "integer", "minimum": 0},
                    "results": {"type": "array", "items": {
                        "type": "object",
                        "required": ["links", "roleNames", "teamId"],
                        "additionalProperties": false,
                        "properties": {
                            "links": {"type": "array", "items": component("Link")},
                            "roleNames": {"type": "array", "minItems": 1, "uniqueItems": true,
                                          "items": {"type": "string", "pattern": "^GROUP_[A-Z_]+$"}},
                            "teamId": {"type": "string", "pattern": "^([a-f0-9]{24})$"}
                        }
                    }}
                }
            }),
        )),
        _ => None,
    }
}

/// Validates a body against the spec file that documents its path.
pub fn check_response(method: &str, path: &str, status: u16, content_type: &str, body: &Value) {
    let path = path.split('?').next().unwrap_or(path);
    if ORGDOOR.template(path).is_some() {
        ORGDOOR.check(method, path, status, content_type, body);
    } else if path.starts_with("/api/atlas/v1.0/") {
        if V1.template(path).is_some() {
            V1.check(method, path, status, content_type, body);
        } else {
            // The v1.0 twins outside the v1 file answer with the 2023-01-01 shapes, as JSON.
            let twin = path.replacen("/api/atlas/v1.0/", "/api/atlas/v2/", 1);
            let content_type = if content_type.starts_with("application/json") && status < 400 {
                "application/vnd.atlas.2023-01-01+json"
            } else {
                content_type
            };
            v2_for(method, &twin, status, content_type).check(
                method,
                &twin,
                status,
                content_type,
                body,
            );
        }
    } else {
        v2_for(method, path, status, content_type).check(method, path, status, content_type, body);
    }
}

/// The roles an operation requires (`x-rolesRequirements`), by operation id, with its method and
/// path template.
pub fn roles_required(operation_id: &str) -> Option<(String, String, Vec<String>)> {
    let paths = V2.document["paths"].as_object()?;
    for (template, item) in paths {
        for (method, operation) in item.as_object()? {
            if operation["operationId"] == operation_id {
                let roles = operation["x-rolesRequirements"]
                    .as_array()
                    .map(|roles| {
                        roles
                            .iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                return Some((method.to_uppercase(), template.clone(), roles));
            }
        }
    }
    None
}

/// An operation that takes a request body, as one of the v2 documents describes it.
pub struct BodyOperation {
    pub operation_id: String,
    pub method: String,
    pub template: String,
    pub content_type: String,
    /// The read-only properties of the body's object schema, each with its resolved schema.
    pub read_only: Vec<(String, Value)>,
}

/// Every operation with a request body in the v2 documents (the main one, then the supplement).
pub fn operations_with_bodies() -> Vec<BodyOperation> {
    [&*V2, &*SUPPLEMENT]
        .into_iter()
        .flat_map(Spec::body_operations)
        .collect()
}

impl Spec {
    fn body_operations(&self) -> Vec<BodyOperation> {
        let mut found = Vec::new();
        let Some(paths) = self.document["paths"].as_object() else {
            return found;
        };
        for (template, item) in paths {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Some(content) = operation["requestBody"]["content"].as_object() else {
                    continue;
                };
                for (content_type, media) in content {
                    let mut schema = self.resolve(&media["schema"]).clone();
                    if schema["type"] == "array" {
                        schema = self.resolve(&schema["items"]).clone();
                    }
                    let parts = std::iter::once(schema.clone()).chain(
                        schema["allOf"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|part| self.resolve(part).clone()),
                    );
                    let mut read_only = Vec::new();
                    for part in parts {
                        for (name, property) in part["properties"].as_object().into_iter().flatten()
                        {
                            let resolved = self.resolve(property);
                            if property["readOnly"] == true || resolved["readOnly"] == true {
                                read_only.push((name.clone(), resolved.clone()));
                            }
                        }
                    }
                    found.push(BodyOperation {
                        operation_id: operation["operationId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        method: method.to_uppercase(),
                        template: template.clone(),
                        content_type: content_type.clone(),
                        read_only,
                    });
                }
            }
        }
        found
    }
}

/// One documented operation: its id, method, path template and the version it is called in
/// (its first response content type).
pub struct DocumentedOperation {
    pub operation_id: String,
    pub method: String,
    pub template: String,
    pub content_type: String,
}

/// Every operation of the three spec files.
pub fn all_operations() -> Vec<DocumentedOperation> {
    let mut found = Vec::new();
    for spec in [&*V2, &*SUPPLEMENT, &*V1] {
        for (template, item) in spec.document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Some(operation_id) = operation["operationId"].as_str() else {
                    continue;
                };
                let content_type = operation["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, response)| spec.resolve(response)["content"].as_object())
                    .flat_map(|content| content.keys())
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "application/json".to_owned());
                found.push(DocumentedOperation {
                    operation_id: operation_id.to_owned(),
                    method: method.to_uppercase(),
                    template: template.clone(),
                    content_type,
                });
            }
        }
    }
    found
}
