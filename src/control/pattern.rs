//! Path patterns for fault rules and the request journal's filter: `/` separates segments, `*`
//! matches any run of characters inside one segment, and a segment of `**` matches any number
//! of whole segments (`/api/atlas/v2/orgs/*/invites`, `/api/atlas/**`).

/// The longest pattern taken; what a client sends is bounded, so is the work of matching.
pub const MAX_PATTERN_LEN: usize = 512;

/// A checked path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern(String);

/// Why a path pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPattern {
    #[error("a path pattern starts with /")]
    NotAbsolute,
    #[error("a path pattern holds at most {MAX_PATTERN_LEN} characters")]
    TooLong,
    #[error("a path pattern holds no white space or control characters")]
    Unprintable,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, InvalidPattern> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(InvalidPattern::TooLong);
        }
        if !text.starts_with('/') {
            return Err(InvalidPattern::NotAbsolute);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidPattern::Unprintable);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, path: &str) -> bool {
        let pattern: Vec<&str> = self.0.split('/').collect();
        let path: Vec<&str> = path.split('/').collect();
        segments_match(&pattern, &path)
    }
}

/// Whole segments, `**` as the wildcard; each segment by [`segment_matches`].
fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    wildcard_match(
        pattern,
        path,
        |segment| *segment == "**",
        |p, t| segment_matches(p, t),
    )
}

/// Characters of one segment, `*` as the wildcard.
fn segment_matches(pattern: &str, text: &str) -> bool {
    wildcard_match(
        pattern.as_bytes(),
        text.as_bytes(),
        |c| *c == b'*',
        |p, t| p == t,
    )
}

/// Whether `text` matches `pattern`, where a wildcard element matches any run of elements:
/// the usual greedy match that goes back only to the latest wildcard, so it takes at most
/// `pattern.len() × text.len()` steps, however many wildcards there are.
fn wildcard_match<P, T>(
    pattern: &[P],
    text: &[T],
    is_wildcard: impl Fn(&P) -> bool,
    element_matches: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(element) if is_wildcard(element) => {
                resume = Some((p, t));
                p += 1;
            }
            Some(element) if element_matches(element, &text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((wildcard, from)) => {
                    p = wildcard + 1;
                    t = from + 1;
                    resume = Some((wildcard, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(is_wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        PathPattern::parse(pattern)
            .expect("a pattern")
            .matches(path)
    }

    #[test]
    fn a_star_matches_one_segment() {
        assert!(matches(
            "/api/atlas/v2/orgs/*/invites",
            "/api/atlas/v2/orgs/6b02e02715c40fa186a3a7fd/invites"
        ));
        assert!(!matches(
            "/api/atlas/v2/orgs/*/invites",
            "/api/atlas/v2/orgs/a/b/invites"
        ));
        assert!(!matches(
            "/api/atlas/v2/orgs/*/invites",
            "/api/atlas/v2/orgs/a/invites/b"
        ));
        assert!(matches("/api/atlas/v2/orgs/*", "/api/atlas/v2/orgs/"));
        assert!(matches("/a/b*d/c", "/a/bxyzd/c"));
        assert!(!matches("/a/b*d/c", "/a/bxyz/c"));
    }

    #[test]
    fn a_double_star_matches_any_number_of_segments() {
        assert!(matches("/api/atlas/**", "/api/atlas/v2/orgs/x/invites"));
        assert!(matches("/api/atlas/**", "/api/atlas"));
        assert!(matches("/**/invites", "/api/atlas/v2/orgs/x/invites"));
        assert!(!matches("/**/invites", "/api/atlas/v2/orgs/x/users"));
    }

    #[test]
    fn an_exact_pattern_matches_only_itself() {
        assert!(matches("/health", "/health"));
        assert!(!matches("/health", "/healthz"));
        assert!(!matches("/health", "/health/x"));
    }

    #[test]
    fn patterns_are_checked() {
        assert_eq!(PathPattern::parse("api"), Err(InvalidPattern::NotAbsolute));
        assert_eq!(PathPattern::parse("/a b"), Err(InvalidPattern::Unprintable));
        assert_eq!(
            PathPattern::parse(&format!("/{}", "a".repeat(MAX_PATTERN_LEN))),
            Err(InvalidPattern::TooLong)
        );
    }

    #[test]
    fn many_stars_against_a_long_path_finish() {
        let pattern = format!("/{}", ["**"; 8].join("/"));
        let path = format!("/{}", ["x"; 200].join("/"));
        assert!(matches(&pattern, &path));
        let pattern = format!("/{}/nomatch", ["**"; 150].join("/"));
        let path = format!("/{}", ["x"; 4000].join("/"));
        assert!(!matches(&pattern, &path));
    }
}
