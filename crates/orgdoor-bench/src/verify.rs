//! What every answer of a scenario must be. The load generator counts a call toward throughput
//! and latency only when its answer passes [`check`]; any other answer is an error.
//!
//! Checks read bytes, so that checking costs the client little next to the request it checks:
//! the status, a scan of a top-level JSON array that counts its elements without building them,
//! and substring searches. Only a paged answer (`{links, results, totalCount}`, whose field order
//! is not fixed) is parsed, with serde_json, into a count of its results.

use serde::{Deserialize, Serialize};

/// What one scenario's answers must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Expectation {
    pub(crate) status: u16,
    pub(crate) shape: BodyShape,
    /// Text the body must contain; `{n}` stands for the call's number, as in the request.
    pub(crate) contains: Vec<String>,
}

/// The shape of the body, beyond the text it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BodyShape {
    /// Not looked at beyond `contains` (an HTML page, a single object).
    Unchecked,
    /// A JSON array of exactly this many elements.
    ArrayOf(usize),
    /// A JSON array of any length: Prism answers with the spec's example.
    AnyArray,
    /// One page of the paginated wrapper, holding exactly this many results.
    PageOf(usize),
}

impl Expectation {
    /// `status` with any body (refine with [`Self::shaped`] and [`Self::containing`]).
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            shape: BodyShape::Unchecked,
            contains: Vec::new(),
        }
    }

    /// 200 with a JSON array of exactly `items` elements.
    pub(crate) fn array_of(items: usize) -> Self {
        Self::status(200).shaped(BodyShape::ArrayOf(items))
    }

    pub(crate) fn shaped(mut self, shape: BodyShape) -> Self {
        self.shape = shape;
        self
    }

    pub(crate) fn containing(mut self, text: impl Into<String>) -> Self {
        self.contains.push(text.into());
        self
    }

    /// Whether the verdict on an answer depends on the call's number; when it does not, an answer
    /// byte-equal to one already passed passes too, without a second scan.
    pub(crate) fn depends_on_call(&self) -> bool {
        self.contains.iter().any(|text| text.contains("{n}"))
    }
}

/// Why an answer is wrong, in a few words and the start of the body, or nothing when it is right.
pub(crate) fn check(expect: &Expectation, n: u64, status: u16, body: &[u8]) -> Result<(), String> {
    if status != expect.status {
        return Err(format!(
            "status {status} (expected {}): {}",
            expect.status,
            excerpt(body)
        ));
    }
    match expect.shape {
        BodyShape::Unchecked => {}
        BodyShape::ArrayOf(wanted) => {
            let items = array_len(body)?;
            if items != wanted {
                return Err(format!("an array of {items} (expected {wanted})"));
            }
        }
        BodyShape::AnyArray => {
            array_len(body)?;
        }
        BodyShape::PageOf(wanted) => {
            let results = page_len(body)?;
            if results != wanted {
                return Err(format!("a page of {results} results (expected {wanted})"));
            }
        }
    }
    if expect.contains.is_empty() {
        return Ok(());
    }
    let text = std::str::from_utf8(body).map_err(|_| "a body that is not UTF-8".to_owned())?;
    for wanted in &expect.contains {
        let wanted = if wanted.contains("{n}") {
            wanted.replace("{n}", &n.to_string())
        } else {
            wanted.clone()
        };
        if !text.contains(&wanted) {
            return Err(format!("no {wanted} in the body: {}", excerpt(body)));
        }
    }
    Ok(())
}

/// The number of elements of the JSON array `body` holds. A byte scan that follows strings and
/// nesting to count the commas of the top level; it does not validate the elements themselves.
fn array_len(body: &[u8]) -> Result<usize, String> {
    let not_an_array = || format!("not a JSON array: {}", excerpt(body));
    let inner = body
        .trim_ascii()
        .strip_prefix(b"[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        .ok_or_else(not_an_array)?;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let (mut commas, mut empty) = (0, true);
    for &byte in inner {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            // Closing more than was opened: `[1],[2]` is two arrays, not one.
            b']' | b'}' => depth = depth.checked_sub(1).ok_or_else(not_an_array)?,
            b',' if depth == 0 => commas += 1,
            _ => {}
        }
        empty &= byte.is_ascii_whitespace();
    }
    if in_string || depth != 0 {
        return Err(not_an_array());
    }
    Ok(if empty { 0 } else { commas + 1 })
}

/// The number of results of a paged answer.
fn page_len(body: &[u8]) -> Result<usize, String> {
    #[derive(Deserialize)]
    struct Page {
        results: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Page>(body)
        .map(|page| page.results.len())
        .map_err(|error| format!("not a page ({error}): {}", excerpt(body)))
}

/// The start of a body on one line, to say what came back instead.
fn excerpt(body: &[u8]) -> String {
    const SHOWN: usize = 80;
    let text = String::from_utf8_lossy(&body[..body.len().min(SHOWN)]);
    let ellipsis = if body.len() > SHOWN { "…" } else { "" };
    format!(
        "{}{ellipsis}",
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_counted_at_their_top_level_only() {
        assert_eq!(array_len(b"[]"), Ok(0));
        assert_eq!(array_len(b" [ ] \n"), Ok(0));
        assert_eq!(array_len(b"[1]"), Ok(1));
        assert_eq!(
            array_len(br#"[{"a":[1,2,{"b":3}]},{"c":"x,y]}"},"q\"u,o\\"]"#),
            Ok(3)
        );
        assert!(array_len(b"{\"a\":1}").is_err());
        assert!(array_len(b"[1],[2]").is_err());
        assert!(array_len(b"[{\"a\":1]").is_err());
        assert!(array_len(b"[\"open]").is_err());
        assert!(array_len(b"").is_err());
    }

    #[test]
    fn the_status_is_checked_first() {
        let expect = Expectation::status(401);
        assert_eq!(check(&expect, 0, 401, b"{}"), Ok(()));
        let wrong = check(&expect, 0, 200, b"[]").expect_err("200 is not 401");
        assert!(wrong.starts_with("status 200 (expected 401)"), "{wrong}");
        let error = check(&Expectation::array_of(3), 0, 500, b"{\"error\":500}")
            .expect_err("500 is not 200");
        assert!(error.contains("\"error\""), "the body is quoted: {error}");
    }

    #[test]
    fn a_list_must_have_exactly_its_rows() {
        let one_row = Expectation::array_of(1).containing(r#""username":"bulk7@example.com""#);
        assert_eq!(
            check(&one_row, 0, 200, br#"[{"username":"bulk7@example.com"}]"#),
            Ok(())
        );
        assert!(check(&one_row, 0, 200, b"[]").is_err());
        assert!(check(&one_row, 0, 200, br#"[{"username":"bulk8@example.com"}]"#).is_err());
        assert!(
            check(
                &one_row,
                0,
                200,
                br#"[{"username":"bulk7@example.com"},{"username":"bulk7@example.com"}]"#
            )
            .is_err()
        );
    }

    #[test]
    fn text_may_name_the_call() {
        let created = Expectation::status(200)
            .containing(r#""id":""#)
            .containing(r#""username":"new{n}@example.com""#);
        assert!(created.depends_on_call());
        let body = br#"{"id":"0123456789abcdef01234567","username":"new42@example.com"}"#;
        assert_eq!(check(&created, 42, 200, body), Ok(()));
        assert!(check(&created, 43, 200, body).is_err());
        assert!(!Expectation::array_of(3).depends_on_call());
    }

    #[test]
    fn a_page_is_counted_by_its_results() {
        let page = Expectation::status(200).shaped(BodyShape::PageOf(2));
        let body = br#"{"links":[{"rel":"self"}],"results":[{"id":1},{"id":2}],"totalCount":9}"#;
        assert_eq!(check(&page, 0, 200, body), Ok(()));
        assert!(check(&page, 0, 200, br#"{"results":[{"id":1}],"totalCount":9}"#).is_err());
        assert!(check(&page, 0, 200, b"[]").is_err());
    }
}
