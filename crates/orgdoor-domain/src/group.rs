//! Projects, which the Atlas API calls groups.

use time::OffsetDateTime;

use crate::text::without_control_characters;
use crate::{GroupId, OrgId, ProjectName};

/// Longest tag key or value (the spec's `ResourceTag` limits).
const MAX_TAG_LENGTH: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGroupTag {
    #[error("a tag key or value is between 1 and {MAX_TAG_LENGTH} characters long")]
    WrongLength,
    #[error("a tag key or value holds a control character (such as NUL, tab, CR or LF)")]
    ControlCharacter,
}

/// One `{key, value}` resource tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTag {
    key: String,
    value: String,
}

impl GroupTag {
    pub fn new(key: String, value: String) -> Result<Self, InvalidGroupTag> {
        let fits = |text: &str| (1..=MAX_TAG_LENGTH).contains(&text.chars().count());
        if !fits(&key) || !fits(&value) {
            return Err(InvalidGroupTag::WrongLength);
        }
        if without_control_characters(&key).is_err() || without_control_characters(&value).is_err()
        {
            return Err(InvalidGroupTag::ControlCharacter);
        }
        Ok(Self { key, value })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub name: ProjectName,
    pub tags: Vec<GroupTag>,
    pub with_default_alerts_settings: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub org_id: OrgId,
    pub name: ProjectName,
    pub tags: Vec<GroupTag>,
    pub with_default_alerts_settings: bool,
}

impl NewGroup {
    pub fn into_group(self, now: OffsetDateTime) -> Group {
        let now = crate::truncate_to_seconds(now);
        Group {
            id: GroupId::generate(now),
            org_id: self.org_id,
            name: self.name,
            tags: self.tags,
            with_default_alerts_settings: self.with_default_alerts_settings,
            created_at: now,
        }
    }
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub name: Option<ProjectName>,
    pub tags: Option<Vec<GroupTag>>,
    pub with_default_alerts_settings: Option<bool>,
}

impl GroupUpdate {
    pub fn apply_to(self, group: &mut Group) {
        if let Some(name) = self.name {
            group.name = name;
        }
        if let Some(tags) = self.tags {
            group.tags = tags;
        }
        if let Some(flag) = self.with_default_alerts_settings {
            group.with_default_alerts_settings = flag;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_refuse_control_characters_in_key_and_value() {
        assert!(GroupTag::new("env".into(), "prod".into()).is_ok());
        assert_eq!(
            GroupTag::new("e\u{0}nv".into(), "prod".into()),
            Err(InvalidGroupTag::ControlCharacter)
        );
        assert_eq!(
            GroupTag::new("env".into(), "pro\nd".into()),
            Err(InvalidGroupTag::ControlCharacter)
        );
    }
}
