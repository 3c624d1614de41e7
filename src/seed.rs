//! Seeds (`serve --seed FILE`): organizations, API keys, service accounts, active users, teams,
//! projects and pending invitations declared in YAML or JSON, put in the store before the server
//! listens, and again after each reset of the control API.
//!
//! Reading checks everything first — names, roles, addresses, keys, references between
//! entries — so a seed is refused whole, naming its file, line and field, before anything is
//! written. Applying is idempotent (`apply::apply`): what the store already has, found by its
//! natural key, is left as it is.

pub mod apply;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use orgdoor_domain::{EmailAddress, GroupRole, OrgId, OrgName, OrgRole, PublicKey};
use serde::{Deserialize, Deserializer};

/// A value read with its type's `FromStr`, so a malformed one is an error at its own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T>(pub T);

impl<'de, T> Deserialize<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map(Parsed)
            .map_err(|error| serde::de::Error::custom(format!("{text:?}: {error}")))
    }
}

/// An organization's name, checked as the API checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOrgName(pub OrgName);

impl<'de> Deserialize<'de> for SeedOrgName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        OrgName::parse(text.clone())
            .map(SeedOrgName)
            .map_err(|error| serde::de::Error::custom(format!("{text:?}: {error}")))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seed {
    #[serde(default)]
    pub organizations: Vec<SeedOrganization>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedOrganization {
    pub name: SeedOrgName,
    /// The id to give it (24 hexadecimal digits), so a suite knows it in advance.
    pub id: Option<Parsed<OrgId>>,
    #[serde(default)]
    pub api_keys: Vec<SeedApiKey>,
    #[serde(default)]
    pub service_accounts: Vec<SeedServiceAccount>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub teams: Vec<SeedTeam>,
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    #[serde(default)]
    pub invitations: Vec<SeedInvitation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedApiKey {
    pub public_key: Parsed<PublicKey>,
    pub private_key: String,
    #[serde(default = "default_description")]
    pub description: String,
    pub roles: Vec<Parsed<OrgRole>>,
}

fn default_description() -> String {
    "seeded".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedServiceAccount {
    /// `mdb_sa_id_` and 24 hexadecimal digits.
    pub client_id: Parsed<orgdoor_domain::ClientId>,
    /// `mdb_sa_sk_` and at least 8 more characters.
    pub secret: String,
    pub name: String,
    #[serde(default = "default_description")]
    pub description: String,
    pub roles: Vec<Parsed<OrgRole>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedUser {
    pub username: Parsed<EmailAddress>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub roles: Vec<Parsed<OrgRole>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedTeam {
    pub name: String,
    /// Usernames of the organization's users (declared under `users`).
    #[serde(default)]
    pub members: Vec<Parsed<EmailAddress>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedProject {
    pub name: String,
    /// Teams of the organization (by name) and their roles in the project.
    #[serde(default)]
    pub teams: Vec<SeedProjectTeam>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedProjectTeam {
    pub team: String,
    pub roles: Vec<Parsed<GroupRole>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeedInvitation {
    pub username: Parsed<EmailAddress>,
    pub roles: Vec<Parsed<OrgRole>>,
    /// Teams of the organization (by name) the invitee joins on accepting.
    #[serde(default)]
    pub teams: Vec<String>,
}

/// Why a seed was refused: its file, and where in it.
#[derive(Debug, thiserror::Error)]
#[error("seed {}: {message}", file.display())]
pub struct SeedError {
    pub file: PathBuf,
    pub message: String,
}

impl Seed {
    /// Reads and checks the seed at `path`: YAML, or JSON (which YAML reads too).
    pub async fn load(path: &Path) -> Result<Seed, SeedError> {
        let refuse = |message: String| SeedError {
            file: path.to_owned(),
            message,
        };
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|error| refuse(format!("cannot be read: {error}")))?;
        Self::parse(&text).map_err(refuse)
    }

    /// Reads and checks a seed's text; the error names the line, column and field.
    pub fn parse(text: &str) -> Result<Seed, String> {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let seed: Seed = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let field = error.path().to_string();
            let inner = error.into_inner();
            let place = inner
                .location()
                .map(|at| format!("line {}, column {}: ", at.line(), at.column()))
                .unwrap_or_default();
            // serde_yaml repeats the place at the end of its message; once is enough.
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            // …and starts with its own path of the field.
            let message = match message.split_once(": ") {
                Some((path, rest)) if !path.contains(' ') => rest,
                _ => message,
            }
            .to_owned();
            if field == "." || field.is_empty() {
                format!("{place}{message}")
            } else {
                format!("{place}field {field}: {message}")
            }
        })?;
        seed.check()?;
        Ok(seed)
    }

    /// What the types cannot say: names, secrets, roles present, and that every reference
    /// names something the seed declares.
    fn check(&self) -> Result<(), String> {
        for (o, organization) in self.organizations.iter().enumerate() {
            let at = |rest: String| format!("field organizations[{o}].{rest}");
            for (k, key) in organization.api_keys.iter().enumerate() {
                crate::provision::FixedKey::parse(key.public_key.0.as_str(), &key.private_key)
                    .map_err(|error| at(format!("apiKeys[{k}].privateKey: {error}")))?;
                orgdoor_domain::api_key::check_description(&key.description)
                    .map_err(|error| at(format!("apiKeys[{k}].description: {error}")))?;
                if key.roles.is_empty() {
                    return Err(at(format!("apiKeys[{k}].roles: at least one role")));
                }
            }
            for (s, account) in organization.service_accounts.iter().enumerate() {
                if !account.secret.starts_with("mdb_sa_sk_")
                    || account.secret.len() < 18
                    || account.secret.len() > 128
                    || !account
                        .secret
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Err(at(format!(
                        "serviceAccounts[{s}].secret: mdb_sa_sk_ and 8 to 118 letters, digits or _"
                    )));
                }
                if account.roles.is_empty() {
                    return Err(at(format!("serviceAccounts[{s}].roles: at least one role")));
                }
                if account.name.trim().is_empty() || account.name.chars().count() > 64 {
                    return Err(at(format!("serviceAccounts[{s}].name: 1 to 64 characters")));
                }
            }
            for (u, user) in organization.users.iter().enumerate() {
                if user.roles.is_empty() {
                    return Err(at(format!("users[{u}].roles: at least one role")));
                }
            }
            let users: Vec<&EmailAddress> = organization
                .users
                .iter()
                .map(|user| &user.username.0)
                .collect();
            for (t, team) in organization.teams.iter().enumerate() {
                orgdoor_domain::TeamName::parse(team.name.clone())
                    .map_err(|error| at(format!("teams[{t}].name: {error}")))?;
                for (m, member) in team.members.iter().enumerate() {
                    if !users.contains(&&member.0) {
                        return Err(at(format!(
                            "teams[{t}].members[{m}]: {} is not one of the organization's users",
                            member.0
                        )));
                    }
                }
            }
            let team_named = |name: &str| {
                organization
                    .teams
                    .iter()
                    .any(|team| team.name.eq_ignore_ascii_case(name))
            };
            for (p, project) in organization.projects.iter().enumerate() {
                orgdoor_domain::ProjectName::parse(project.name.clone())
                    .map_err(|error| at(format!("projects[{p}].name: {error}")))?;
                for (t, team) in project.teams.iter().enumerate() {
                    if !team_named(&team.team) {
                        return Err(at(format!(
                            "projects[{p}].teams[{t}].team: no team {:?} in the organization",
                            team.team
                        )));
                    }
                    if team.roles.is_empty() {
                        return Err(at(format!(
                            "projects[{p}].teams[{t}].roles: at least one role"
                        )));
                    }
                }
            }
            for (i, invitation) in organization.invitations.iter().enumerate() {
                if invitation.roles.is_empty() {
                    return Err(at(format!("invitations[{i}].roles: at least one role")));
                }
                if users.contains(&&invitation.username.0) {
                    return Err(at(format!(
                        "invitations[{i}].username: {} is already one of the organization's users",
                        invitation.username.0
                    )));
                }
                for (t, team) in invitation.teams.iter().enumerate() {
                    if !team_named(team) {
                        return Err(at(format!(
                            "invitations[{i}].teams[{t}]: no team {team:?} in the organization"
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_reads_as_json_too() {
        let seed = Seed::parse(
            r#"{"organizations": [{"name": "json-org", "apiKeys": [{"publicKey": "jsonkeys",
                "privateKey": "0f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2910", "roles": ["ORG_OWNER"]}]}]}"#,
        )
        .expect("a seed");
        assert_eq!(seed.organizations[0].name.0.as_str(), "json-org");
        assert_eq!(
            seed.organizations[0].api_keys[0].public_key.0.as_str(),
            "jsonkeys"
        );
    }

    #[test]
    fn a_refusal_names_the_line_and_the_field() {
        let refused = Seed::parse("organizations:\n  - name: ok\n    users:\n      - username: nobody\n        roles: [ORG_MEMBER]\n")
            .expect_err("a bad address");
        assert!(
            refused.starts_with("line 4, column ")
                && refused.contains("field organizations[0].users[0].username: \"nobody\""),
            "{refused}"
        );
        let refused =
            Seed::parse("organizations:\n  - name: ok\n    colour: red\n").expect_err("unknown");
        assert!(refused.contains("colour"), "{refused}");
        let refused = Seed::parse(
            "organizations:\n  - name: ok\n    teams:\n      - name: t\n        members: [a@example.com]\n",
        )
        .expect_err("a member who is no user");
        assert!(
            refused.contains("organizations[0].teams[0].members[0]"),
            "{refused}"
        );
    }
}
