//! What both SQL dialects share: row types and their conversion into domain types (the
//! encodings of single values are in `encoding`).

use orgdoor_domain::{
    ApiKey, EmailAddress, Group, GroupRoleAssignment, Invitation, Member, OrgName, Organization,
    ProjectName, PublicKey, Team, TeamName, User, UserProfile,
};
use sqlx::FromRow;

mod encoding;

pub(crate) use encoding::{
    corrupt, count, decode_roles, encode_roles, instant, limit_offset, parse, seconds, write_error,
};

use crate::StoreError;
use crate::sql::FromWriterRow;

#[derive(FromRow)]
pub(crate) struct OrganizationRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) skip_default_alerts_settings: bool,
    pub(crate) created_at: i64,
}

impl FromWriterRow for OrganizationRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
            skip_default_alerts_settings: row.get("skip_default_alerts_settings")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<OrganizationRow> for Organization {
    type Error = StoreError;

    fn try_from(row: OrganizationRow) -> Result<Self, StoreError> {
        Ok(Organization {
            id: parse(&row.id, "org id")?,
            name: OrgName::parse(row.name).map_err(corrupt)?,
            skip_default_alerts_settings: row.skip_default_alerts_settings,
            created_at: instant(row.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct ApiKeyRow {
    pub(crate) id: String,
    pub(crate) org_id: String,
    pub(crate) public_key: String,
    digest_ha1: Vec<u8>,
    pub(crate) description: String,
    pub(crate) roles: String,
    pub(crate) created_at: i64,
}

impl FromWriterRow for ApiKeyRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            public_key: row.get("public_key")?,
            digest_ha1: row.get("digest_ha1")?,
            description: row.get("description")?,
            roles: row.get("roles")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// A key and its sealed HA1, which only the store's sealer opens.
impl TryFrom<ApiKeyRow> for (ApiKey, Vec<u8>) {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        let key = ApiKey {
            id: parse(&row.id, "api key id")?,
            org_id: parse(&row.org_id, "org id")?,
            public_key: parse::<PublicKey>(&row.public_key, "public key")?,
            description: row.description,
            roles: decode_roles(&row.roles)?,
            // Read separately (`api_key_project_roles`) by the caller.
            project_roles: Vec::new(),
            created_at: instant(row.created_at)?,
        };
        Ok((key, row.digest_ha1))
    }
}

#[derive(FromRow)]
pub(crate) struct TeamRow {
    pub(crate) id: String,
    pub(crate) org_id: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
}

impl FromWriterRow for TeamRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            name: row.get("name")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;

    fn try_from(row: TeamRow) -> Result<Self, StoreError> {
        Ok(Team {
            id: parse(&row.id, "team id")?,
            org_id: parse(&row.org_id, "org id")?,
            name: TeamName::parse(row.name).map_err(corrupt)?,
            created_at: instant(row.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct GroupRow {
    pub(crate) id: String,
    pub(crate) org_id: String,
    pub(crate) name: String,
    pub(crate) with_default_alerts_settings: bool,
    pub(crate) created_at: i64,
}

impl FromWriterRow for GroupRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            org_id: row.get("org_id")?,
            name: row.get("name")?,
            with_default_alerts_settings: row.get("with_default_alerts_settings")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<GroupRow> for Group {
    type Error = StoreError;

    fn try_from(row: GroupRow) -> Result<Self, StoreError> {
        Ok(Group {
            id: parse(&row.id, "project id")?,
            org_id: parse(&row.org_id, "org id")?,
            name: ProjectName::parse(row.name).map_err(corrupt)?,
            tags: Vec::new(),
            with_default_alerts_settings: row.with_default_alerts_settings,
            created_at: instant(row.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct InvitationRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) org_id: String,
    pub(crate) username: String,
    pub(crate) roles: String,
    pub(crate) inviter_username: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) declined_at: Option<i64>,
}

impl FromWriterRow for InvitationRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            org_id: row.get("org_id")?,
            username: row.get("username")?,
            roles: row.get("roles")?,
            inviter_username: row.get("inviter_username")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
            declined_at: row.get("declined_at")?,
        })
    }
}

/// An invitation as aggregated lists carry it (`tables::invitations::invitations_json`): a
/// JSON array of `INVITATION_COLUMNS`, then the team ids and the (project id, role) pairs,
/// each in their stored order (`null` or `[]` when there are none).
#[derive(serde::Deserialize)]
struct InvitationJsonRow {
    id: String,
    user_id: String,
    org_id: String,
    username: String,
    roles: String,
    inviter_username: String,
    created_at: i64,
    expires_at: i64,
    declined_at: Option<i64>,
    team_ids: Option<Vec<String>>,
    project_roles: Option<Vec<(String, String)>>,
}

impl TryFrom<InvitationJsonRow> for Invitation {
    type Error = StoreError;

    fn try_from(row: InvitationJsonRow) -> Result<Self, StoreError> {
        let mut invitation = Invitation::try_from(InvitationRow {
            id: row.id,
            user_id: row.user_id,
            org_id: row.org_id,
            username: row.username,
            roles: row.roles,
            inviter_username: row.inviter_username,
            created_at: row.created_at,
            expires_at: row.expires_at,
            declined_at: row.declined_at,
        })?;
        invitation.team_ids = row
            .team_ids
            .unwrap_or_default()
            .iter()
            .map(|id| parse(id, "team id"))
            .collect::<Result<_, _>>()?;
        invitation.group_role_assignments = row
            .project_roles
            .unwrap_or_default()
            .iter()
            .map(|(group, role)| {
                Ok(GroupRoleAssignment {
                    group_id: parse(group, "project id")?,
                    role: parse(role, "project role")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(invitation)
    }
}

/// Invitations parsed from a JSON array of `InvitationJsonRow`s, each converted as soon as it
/// is read, so a long list never exists twice.
struct InvitationRows(Vec<Invitation>);

impl<'de> serde::Deserialize<'de> for InvitationRows {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rows;

        impl<'de> serde::de::Visitor<'de> for Rows {
            type Value = InvitationRows;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("an array of invitation rows")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut rows: A,
            ) -> Result<Self::Value, A::Error> {
                let mut invitations = Vec::with_capacity(rows.size_hint().unwrap_or(0));
                while let Some(row) = rows.next_element::<InvitationJsonRow>()? {
                    invitations.push(Invitation::try_from(row).map_err(serde::de::Error::custom)?);
                }
                Ok(InvitationRows(invitations))
            }
        }

        deserializer.deserialize_seq(Rows)
    }
}

/// The `invitations` column of a list query (`tables::invitations::invitations_json`), parsed
/// straight from the text the row holds (a long list is never copied before it is parsed).
pub(crate) struct InvitationList(pub(crate) Vec<Invitation>);

impl<'r, R: sqlx::Row> FromRow<'r, R> for InvitationList
where
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'static str: sqlx::ColumnIndex<R>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let json: Option<&'r str> = row.try_get("invitations")?;
        InvitationList::parse(json).map_err(|error| sqlx::Error::ColumnDecode {
            index: "invitations".into(),
            source: Box::new(error),
        })
    }
}

impl FromWriterRow for InvitationList {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let index = row.as_ref().column_index("invitations")?;
        let failed = |error: Box<dyn std::error::Error + Send + Sync>| {
            rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error)
        };
        let json = row
            .get_ref(index)?
            .as_str_or_null()
            .map_err(|error| failed(Box::new(error)))?;
        InvitationList::parse(json).map_err(|error| failed(Box::new(error)))
    }
}

impl InvitationList {
    /// The list a column holds: none for NULL (an organization without invitations).
    fn parse(json: Option<&str>) -> Result<Self, serde_json::Error> {
        let Some(json) = json else {
            return Ok(InvitationList(Vec::new()));
        };
        let InvitationRows(invitations) = serde_json::from_str(json)?;
        Ok(InvitationList(invitations))
    }
}

/// An organization with an `invitations` list column.
#[derive(FromRow)]
pub(crate) struct OrganizationWithInvitations {
    #[sqlx(flatten)]
    pub(crate) organization: OrganizationRow,
    #[sqlx(flatten)]
    pub(crate) invitations: InvitationList,
}

impl FromWriterRow for OrganizationWithInvitations {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            organization: OrganizationRow::from_writer_row(row)?,
            invitations: InvitationList::from_writer_row(row)?,
        })
    }
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;

    fn try_from(row: InvitationRow) -> Result<Self, StoreError> {
        Ok(Invitation {
            id: parse(&row.id, "invitation id")?,
            user_id: parse(&row.user_id, "user id")?,
            org_id: parse(&row.org_id, "org id")?,
            username: parse::<EmailAddress>(&row.username, "username")?,
            roles: decode_roles(&row.roles)?,
            team_ids: Vec::new(),
            group_role_assignments: Vec::new(),
            inviter_username: row.inviter_username,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
            declined_at: row.declined_at.map(instant).transpose()?,
        })
    }
}

/// A person's account.
#[derive(FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) country: String,
    pub(crate) mobile_number: String,
    pub(crate) created_at: i64,
}

impl FromWriterRow for UserRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            username: row.get("username")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            country: row.get("country")?,
            mobile_number: row.get("mobile_number")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: parse(&row.id, "user id")?,
            username: parse::<EmailAddress>(&row.username, "username")?,
            profile: UserProfile {
                first_name: row.first_name,
                last_name: row.last_name,
                country: row.country,
                mobile_number: row.mobile_number,
            },
            created_at: instant(row.created_at)?,
        })
    }
}

pub(crate) const USER_COLUMNS: &str =
    "id, username, first_name, last_name, country, mobile_number, created_at";

/// A member joined with their account.
#[derive(FromRow)]
pub(crate) struct MemberRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) org_id: String,
    pub(crate) roles: String,
    pub(crate) joined_at: i64,
}

impl FromWriterRow for MemberRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user: UserRow::from_writer_row(row)?,
            org_id: row.get("org_id")?,
            roles: row.get("roles")?,
            joined_at: row.get("joined_at")?,
        })
    }
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> Result<Self, StoreError> {
        Ok(Member {
            user: row.user.try_into()?,
            org_id: parse(&row.org_id, "org id")?,
            roles: decode_roles(&row.roles)?,
            team_ids: Vec::new(),
            group_role_assignments: Vec::new(),
            joined_at: instant(row.joined_at)?,
        })
    }
}

/// The columns of [`MemberRow`], from `org_members m JOIN users u`.
pub(crate) const MEMBER_COLUMNS: &str = "u.id, u.username, u.first_name, u.last_name, u.country, \
     u.mobile_number, u.created_at, m.org_id, m.roles, m.joined_at";

pub(crate) const ORGANIZATION_COLUMNS: &str = "id, name, skip_default_alerts_settings, created_at";
pub(crate) const TEAM_COLUMNS: &str = "id, org_id, name, created_at";
pub(crate) const GROUP_COLUMNS: &str = "id, org_id, name, with_default_alerts_settings, created_at";
pub(crate) const INVITATION_COLUMNS: &str =
    "id, user_id, org_id, username, roles, inviter_username, created_at, expires_at, declined_at";

#[derive(FromRow)]
pub(crate) struct AccessListRow {
    pub(crate) cidr: String,
    pub(crate) created_at: i64,
}

impl FromWriterRow for AccessListRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            cidr: row.get("cidr")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<AccessListRow> for orgdoor_domain::AccessListEntry {
    type Error = StoreError;

    fn try_from(row: AccessListRow) -> Result<Self, StoreError> {
        Ok(orgdoor_domain::AccessListEntry {
            network: parse(&row.cidr, "access list entry")?,
            created_at: instant(row.created_at)?,
        })
    }
}

pub(crate) const API_KEY_COLUMNS: &str =
    "id, org_id, public_key, digest_ha1, description, roles, created_at";

#[derive(FromRow)]
pub(crate) struct ProjectInvitationRow {
    pub(crate) id: String,
    pub(crate) project_id: String,
    pub(crate) username: String,
    pub(crate) roles: String,
    pub(crate) inviter_username: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl FromWriterRow for ProjectInvitationRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            project_id: row.get("project_id")?,
            username: row.get("username")?,
            roles: row.get("roles")?,
            inviter_username: row.get("inviter_username")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

impl TryFrom<ProjectInvitationRow> for orgdoor_domain::ProjectInvitation {
    type Error = StoreError;

    fn try_from(row: ProjectInvitationRow) -> Result<Self, StoreError> {
        Ok(orgdoor_domain::ProjectInvitation {
            id: parse(&row.id, "invitation id")?,
            group_id: parse(&row.project_id, "project id")?,
            username: parse::<EmailAddress>(&row.username, "username")?,
            roles: decode_roles(&row.roles)?,
            inviter_username: row.inviter_username,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        })
    }
}

pub(crate) const PROJECT_INVITATION_COLUMNS: &str =
    "id, project_id, username, roles, inviter_username, created_at, expires_at";

#[derive(FromRow)]
pub(crate) struct ServiceAccountRow {
    pub(crate) client_id: String,
    pub(crate) org_id: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) roles: String,
    pub(crate) created_at: i64,
}

impl FromWriterRow for ServiceAccountRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            client_id: row.get("client_id")?,
            org_id: row.get("org_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            roles: row.get("roles")?,
            created_at: row.get("created_at")?,
        })
    }
}

impl TryFrom<ServiceAccountRow> for orgdoor_domain::ServiceAccount {
    type Error = StoreError;

    fn try_from(row: ServiceAccountRow) -> Result<Self, StoreError> {
        Ok(orgdoor_domain::ServiceAccount {
            client_id: parse(&row.client_id, "client id")?,
            org_id: parse(&row.org_id, "org id")?,
            name: row.name,
            description: row.description,
            roles: decode_roles(&row.roles)?,
            created_at: instant(row.created_at)?,
            secrets: Vec::new(),
        })
    }
}

pub(crate) const SERVICE_ACCOUNT_COLUMNS: &str =
    "client_id, org_id, name, description, roles, created_at";

pub(crate) fn digest(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt("a digest of the wrong length"))
}

#[derive(FromRow)]
pub(crate) struct SecretRow {
    pub(crate) id: String,
    pub(crate) digest: Vec<u8>,
    pub(crate) masked: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl FromWriterRow for SecretRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            digest: row.get("digest")?,
            masked: row.get("masked")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

impl TryFrom<SecretRow> for orgdoor_domain::ServiceAccountSecret {
    type Error = StoreError;

    fn try_from(row: SecretRow) -> Result<Self, StoreError> {
        Ok(orgdoor_domain::ServiceAccountSecret {
            id: parse(&row.id, "secret id")?,
            digest: digest(&row.digest)?,
            masked: row.masked,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        })
    }
}

/// A credential's organization, joined to the credential's row (`credential_org_*` columns;
/// the organization id is the credential's own `org_id`).
#[derive(FromRow)]
pub(crate) struct CredentialOrgRow {
    pub(crate) credential_org_name: String,
    pub(crate) credential_org_skip_default_alerts_settings: bool,
    pub(crate) credential_org_created_at: i64,
}

impl FromWriterRow for CredentialOrgRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            credential_org_name: row.get("credential_org_name")?,
            credential_org_skip_default_alerts_settings: row
                .get("credential_org_skip_default_alerts_settings")?,
            credential_org_created_at: row.get("credential_org_created_at")?,
        })
    }
}

/// A credential's row with its organization's.
#[derive(FromRow)]
pub(crate) struct WithCredentialOrg<C> {
    #[sqlx(flatten)]
    pub(crate) credential: C,
    #[sqlx(flatten)]
    pub(crate) organization: CredentialOrgRow,
}

impl<C: FromWriterRow> FromWriterRow for WithCredentialOrg<C> {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            credential: C::from_writer_row(row)?,
            organization: CredentialOrgRow::from_writer_row(row)?,
        })
    }
}

/// The columns of a `CredentialOrgRow`, from `organizations o`.
pub(crate) const CREDENTIAL_ORG_COLUMNS: &str = "o.name AS credential_org_name, \
     o.skip_default_alerts_settings AS credential_org_skip_default_alerts_settings, \
     o.created_at AS credential_org_created_at";

impl CredentialOrgRow {
    pub(crate) fn into_organization(self, id: String) -> Result<Organization, StoreError> {
        Organization::try_from(OrganizationRow {
            id,
            name: self.credential_org_name,
            skip_default_alerts_settings: self.credential_org_skip_default_alerts_settings,
            created_at: self.credential_org_created_at,
        })
    }
}

/// A credential's row joined with one entry of its access list (`access_cidr`), or with none
/// (NULL) when the list is empty.
#[derive(FromRow)]
pub(crate) struct WithAccessCidr<C> {
    #[sqlx(flatten)]
    pub(crate) credential: C,
    pub(crate) access_cidr: Option<String>,
}

impl<C: FromWriterRow> FromWriterRow for WithAccessCidr<C> {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            credential: C::from_writer_row(row)?,
            access_cidr: row.get("access_cidr")?,
        })
    }
}

/// An access token joined with its service account.
#[derive(FromRow)]
pub(crate) struct TokenAccountRow {
    #[sqlx(flatten)]
    pub(crate) account: ServiceAccountRow,
    pub(crate) token_created_at: i64,
    pub(crate) token_expires_at: i64,
}

impl FromWriterRow for TokenAccountRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            account: ServiceAccountRow::from_writer_row(row)?,
            token_created_at: row.get("token_created_at")?,
            token_expires_at: row.get("token_expires_at")?,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct TokenRow {
    pub(crate) digest: Vec<u8>,
    pub(crate) client_id: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl FromWriterRow for TokenRow {
    fn from_writer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            digest: row.get("digest")?,
            client_id: row.get("client_id")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

impl TryFrom<TokenRow> for orgdoor_domain::AccessToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(orgdoor_domain::AccessToken {
            digest: digest(&row.digest)?,
            client_id: parse(&row.client_id, "client id")?,
            created_at: instant(row.created_at)?,
            expires_at: instant(row.expires_at)?,
        })
    }
}

/// Where a credential's access list lives: its table, the column naming the credential, and
/// the credential's own table and key column (for the organization check).
pub(crate) fn access_list_tables(
    credential: &crate::Credential,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    String,
) {
    match credential {
        crate::Credential::ApiKey(id) => (
            "api_key_access_list",
            "api_key_id",
            "api_keys",
            "id",
            id.to_string(),
        ),
        crate::Credential::ServiceAccount(id) => (
            "service_account_access_list",
            "client_id",
            "service_accounts",
            "client_id",
            id.to_string(),
        ),
    }
}
