//! Names of organizations, projects and teams.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::LazyLock;

use regex::Regex;

use crate::text::{ControlCharacter, without_control_characters};

/// The characters of Atlas's pattern for organization and project names (CONTRACT §2.3,
/// NAME64: `^[\p{L}\p{N}\-_.(),:&@+']{1,64}$`). Its length, 1 to 64 characters, is checked
/// apart: compiled with the `{1,64}`, the pattern was 64 copies of two Unicode classes, 3.5 MB
/// of an idle server's memory.
static NAME64: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\p{L}\p{N}\-_.(),:&@+']+$").expect("NAME64 is a valid pattern")
});

/// Longest team name accepted; the spec sets none (our choice, see docs/compatibility.md).
const MAX_TEAM_NAME_LENGTH: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {0} characters")]
    TooLong(usize),
    #[error("the name may hold only letters, digits and the characters -_.(),:&@+'")]
    ForbiddenCharacter,
    #[error("the name holds a control character (such as NUL, tab, CR or LF)")]
    ControlCharacter,
}

impl From<ControlCharacter> for InvalidName {
    fn from(_: ControlCharacter) -> Self {
        InvalidName::ControlCharacter
    }
}

fn check_name64(candidate: &str) -> Result<(), InvalidName> {
    without_control_characters(candidate)?;
    if candidate.is_empty() {
        return Err(InvalidName::Empty);
    }
    if candidate.chars().count() > 64 {
        return Err(InvalidName::TooLong(64));
    }
    if !NAME64.is_match(candidate) {
        return Err(InvalidName::ForbiddenCharacter);
    }
    Ok(())
}

fn check_team_name(candidate: &str) -> Result<(), InvalidName> {
    without_control_characters(candidate)?;
    if candidate.trim().is_empty() {
        return Err(InvalidName::Empty);
    }
    if candidate.chars().count() > MAX_TEAM_NAME_LENGTH {
        return Err(InvalidName::TooLong(MAX_TEAM_NAME_LENGTH));
    }
    Ok(())
}

/// The rule a kind of [`Name`] follows. Each rule is an empty enum: it exists only as a type, so
/// that names of different kinds are different types even where they follow the same pattern.
pub trait NameRule {
    /// The name of the name type, as [`fmt::Debug`] prints it (`OrgName("…")`).
    const TYPE_NAME: &'static str;

    /// Accepts `candidate` or says why it is no name of this kind.
    fn check(candidate: &str) -> Result<(), InvalidName>;
}

/// A name that follows rule `R`. Use the aliases ([`OrgName`], [`ProjectName`], [`TeamName`])
/// rather than this type directly.
///
/// Names of different kinds do not mix, even where they follow the same pattern:
///
/// ```compile_fail
/// use orgdoor_domain::{OrgName, ProjectName};
///
/// let org = OrgName::parse("acme").expect("a valid name");
/// let project: ProjectName = org;
/// ```
pub struct Name<R>(String, PhantomData<fn() -> R>);

impl<R: NameRule> Name<R> {
    /// `candidate` as a name, if it follows the rule.
    pub fn parse(candidate: impl Into<String>) -> Result<Self, InvalidName> {
        let candidate = candidate.into();
        R::check(&candidate)?;
        Ok(Self(candidate, PhantomData))
    }

    /// The name as it was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<R> fmt::Display for Name<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<R: NameRule> fmt::Debug for Name<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(R::TYPE_NAME).field(&self.0).finish()
    }
}

// Clone, equality and hashing by hand rather than derived: a derive would demand the same trait
// of `R`, which is only a marker.

impl<R> Clone for Name<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}

impl<R> PartialEq for Name<R> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<R> Eq for Name<R> {}

impl<R> Hash for Name<R> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The rule of an [`OrgName`].
pub enum OrgNameRule {}
impl NameRule for OrgNameRule {
    const TYPE_NAME: &'static str = "OrgName";

    fn check(candidate: &str) -> Result<(), InvalidName> {
        check_name64(candidate)
    }
}
/// An organization name (NAME64).
pub type OrgName = Name<OrgNameRule>;

/// The rule of a [`ProjectName`].
pub enum ProjectNameRule {}
impl NameRule for ProjectNameRule {
    const TYPE_NAME: &'static str = "ProjectName";

    fn check(candidate: &str) -> Result<(), InvalidName> {
        check_name64(candidate)
    }
}
/// A project name (NAME64).
pub type ProjectName = Name<ProjectNameRule>;

/// The rule of a [`TeamName`].
pub enum TeamNameRule {}
impl NameRule for TeamNameRule {
    const TYPE_NAME: &'static str = "TeamName";

    fn check(candidate: &str) -> Result<(), InvalidName> {
        check_team_name(candidate)
    }
}
/// A team name: any non-blank text up to 255 characters without control characters.
pub type TeamName = Name<TeamNameRule>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unicode_letters_are_allowed_in_names() {
        assert!(OrgName::parse("Café-1").is_ok());
        assert!(ProjectName::parse("a.b(c),d:e&f@g+h'i").is_ok());
    }

    #[test]
    fn slashes_and_spaces_are_not() {
        assert_eq!(
            OrgName::parse("bad/name"),
            Err(InvalidName::ForbiddenCharacter)
        );
        assert_eq!(
            ProjectName::parse("two words"),
            Err(InvalidName::ForbiddenCharacter)
        );
        assert_eq!(OrgName::parse(""), Err(InvalidName::Empty));
        assert_eq!(
            OrgName::parse("x".repeat(65)),
            Err(InvalidName::TooLong(64))
        );
    }

    #[test]
    fn names_of_64_characters_of_any_width_are_allowed_and_no_longer() {
        // Characters, not bytes: 64 of a three-byte letter are one name of 192 bytes.
        for letter in ["x", "é", "語", "7"] {
            assert!(OrgName::parse(letter.repeat(64)).is_ok(), "{letter}");
            assert_eq!(
                ProjectName::parse(letter.repeat(65)),
                Err(InvalidName::TooLong(64))
            );
        }
        assert_eq!(
            OrgName::parse(format!("{}/", "x".repeat(63))),
            Err(InvalidName::ForbiddenCharacter)
        );
    }

    #[test]
    fn team_names_need_only_be_non_blank() {
        assert!(TeamName::parse("Platform team / EU").is_ok());
        assert_eq!(TeamName::parse("   "), Err(InvalidName::Empty));
    }

    #[test]
    fn control_characters_are_refused_in_every_name() {
        for name in [
            "a\u{0}b", "a\nb", "a\r", "\tab", "a\u{7f}", "a\u{85}b", "a\u{9f}",
        ] {
            assert_eq!(TeamName::parse(name), Err(InvalidName::ControlCharacter));
            assert_eq!(OrgName::parse(name), Err(InvalidName::ControlCharacter));
            assert_eq!(ProjectName::parse(name), Err(InvalidName::ControlCharacter));
        }
    }

    #[test]
    fn debug_names_the_kind_of_name() {
        let name = ProjectName::parse("web").expect("valid");
        assert_eq!(format!("{name:?}"), r#"ProjectName("web")"#);
        assert_eq!(name.to_string(), "web");
    }

    proptest! {
        #[test]
        fn names_from_the_allowed_alphabet_round_trip(candidate in "[a-zA-Z0-9_.()'-]{1,64}") {
            let name = OrgName::parse(candidate.clone()).expect("valid");
            prop_assert_eq!(name.as_str(), candidate.as_str());
        }
    }
}
