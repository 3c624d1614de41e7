//! Team membership: `/orgs/{orgId}/teams/{teamId}/users…` (deprecated 2023-01-01 and the
//! legacy v1.0 paths the Go client calls) and its 2025-02-19 successors
//! `…/teams/{teamId}:addUser` and `:removeUser`. Reads need Organization Member, writes
//! Organization Owner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use orgdoor_domain::limits::{MAX_TEAM_USERS, dedup};
use orgdoor_domain::{MembershipStatus, Organization, TeamId};
use orgdoor_store::{OrgUserFilter, Rejection, StoreError};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::AppError;
use crate::http::custom_methods::{CustomMethod, CustomMethodName};
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_team_id, parse_user_id,
};
use crate::http::operations::{ApiRoutes, legacy, versioned};
use crate::http::pagination::ListQuery;
use crate::http::rate_limits::{TEAMS, limited};
use crate::http::scope::{OrgMember, OrgOwner, OrgScope, ScopeSegment};
use crate::http::user_lists::{list_filter, user_list};
use crate::http::versioning::{
    ApiVersion, MEMBERS_BOTH, MEMBERS_CURRENT, MEMBERS_DEPRECATED, V2023_01_01_DEPRECATED,
};
use crate::state::AppState;
use crate::views::OrgUserView;

/// The team-membership operations, and the legacy Go client's (`go.mongodb.org/atlas`
/// `TeamsService`) calls under `/api/atlas/v1.0`.
pub fn routes(state: &AppState) -> ApiRoutes {
    let teams = |routes, versions| versioned(limited(routes, state, &TEAMS), state, versions);
    let legacy_teams = |routes| legacy(limited(routes, state, &TEAMS), state);
    ApiRoutes::default()
        .v2(
            "/orgs/{orgId}/teams/{teamId}/users",
            teams(get(list_team_users), MEMBERS_BOTH)
                .merge(teams(post(add_team_users), MEMBERS_DEPRECATED)),
        )
        .v2(
            "/orgs/{orgId}/teams/{teamId}/users/{userId}",
            teams(delete(remove_team_user), MEMBERS_DEPRECATED),
        )
        .v2(
            // `…/{teamId}:addUser` and `:removeUser`, split off by `split_custom_method`.
            "/orgs/{orgId}/teams/{teamId}/{method}",
            teams(post(change_team_membership), MEMBERS_CURRENT),
        )
        .v1(
            "/orgs/{orgId}/teams/{teamId}/users",
            legacy_teams(get(list_team_users).post(add_team_users)),
        )
        .v1(
            "/orgs/{orgId}/teams/{teamId}/users/{userId}",
            legacy_teams(delete(remove_team_user)),
        )
}

/// The team, which must be in the caller's organization.
async fn team_of(
    state: &AppState,
    organization: &Organization,
    raw_team: &str,
) -> Result<TeamId, AppError> {
    let id = parse_team_id(raw_team)?;
    state
        .store
        .get_team(&organization.id, &id)
        .await?
        .map(|team| team.id)
        .ok_or_else(|| AppError::TeamNotFound(raw_team.to_owned()))
}

async fn list_team_users(
    State(state): State<AppState>,
    base: BaseUrl,
    version: ApiVersion,
    AtlasPath((_, raw_team)): AtlasPath<(ScopeSegment, String)>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Response, AppError> {
    let team = team_of(&state, &organization, &raw_team).await?;
    let list = ListQuery::from_query(&query)?;
    let filter = list_filter(&query, version, Some(team.clone()))?;
    let now = state.clock.now();
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/teams/{team}/users", organization.id);
    Ok(user_list(&base, &path, &list, page, version, now))
}

/// `AddUserToTeam`.
#[derive(Deserialize)]
struct AddUserToTeamRequest {
    id: Option<String>,
}

/// The body of `addTeamUsers`: a JSON array of `AddUserToTeam`.
#[derive(Deserialize)]
#[serde(transparent)]
struct AddUsersToTeamRequest(Vec<AddUserToTeamRequest>);

impl RequestBody for AddUsersToTeamRequest {
    const IS_ARRAY: bool = true;
}

/// Adds members to a team and answers with the team's members (2023-01-01 `CloudAppUser`s).
async fn add_team_users(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, raw_team)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<AddUsersToTeamRequest>,
) -> Result<Response, AppError> {
    let AddUsersToTeamRequest(requests) = body.parse()?;
    let team = team_of(&state, &organization, &raw_team).await?;
    if requests.is_empty() {
        return Err(AppError::MissingAttribute("id".into()));
    }
    AppError::check_length("id", &requests, MAX_TEAM_USERS)?;
    let users = requests
        .into_iter()
        .map(|request| {
            let raw = request
                .id
                .ok_or_else(|| AppError::MissingAttribute("id".into()))?;
            parse_user_id(&raw)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let users = dedup(users);
    let now = state.clock.now();
    state
        .store
        .add_team_members(&organization.id, &team, &users, now)
        .await?;
    let filter = OrgUserFilter {
        statuses: vec![MembershipStatus::Active],
        username: None,
        user_id: None,
        team: Some(team.clone()),
        project: None,
    };
    let list = ListQuery::from_query(&QueryParams::default())?;
    let page = state
        .store
        .list_org_users(&organization.id, &filter, list.page, now)
        .await?;
    let path = format!("/orgs/{}/teams/{team}/users", organization.id);
    Ok(user_list(
        &base,
        &path,
        &list,
        page,
        ApiVersion::Dated(&V2023_01_01_DEPRECATED),
        now,
    ))
}

async fn remove_team_user(
    State(state): State<AppState>,
    AtlasPath((_, raw_team, raw_user)): AtlasPath<(ScopeSegment, String, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let team = parse_team_id(&raw_team)?;
    let id = parse_user_id(&raw_user)?;
    state
        .store
        .remove_team_member(&organization.id, &team, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `:addUser` and `:removeUser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TeamMembershipMethod {
    AddUser,
    RemoveUser,
}

impl CustomMethodName for TeamMembershipMethod {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            ":addUser" => Some(TeamMembershipMethod::AddUser),
            ":removeUser" => Some(TeamMembershipMethod::RemoveUser),
            _ => None,
        }
    }
}

/// `AddOrRemoveUserFromTeam`.
#[derive(Deserialize)]
struct TeamMemberRequest {
    id: Option<String>,
}

impl RequestBody for TeamMemberRequest {}

/// `POST …/teams/{teamId}:addUser` and `:removeUser` (2025-02-19, the successors of the
/// deprecated team-user paths): one member or pending invitee in or out; answers with them.
async fn change_team_membership(
    State(state): State<AppState>,
    AtlasPath((_, raw_team, _)): AtlasPath<(ScopeSegment, String, IgnoredAny)>,
    CustomMethod(method): CustomMethod<TeamMembershipMethod>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<TeamMemberRequest>,
) -> Result<Json<OrgUserView>, AppError> {
    let join = method == TeamMembershipMethod::AddUser;
    let request = body.parse()?;
    let team = parse_team_id(&raw_team)?;
    let raw_user = request
        .id
        .ok_or_else(|| AppError::MissingAttribute("id".into()))?;
    let user = parse_user_id(&raw_user)?;
    let now = state.clock.now();
    let changed = match state
        .store
        .change_team_membership(&organization.id, &team, &user, join, now)
        .await
    {
        // `:addUser` documents no 409: adding someone already in the team changes nothing,
        // as the role custom methods do, and answers the user as they are.
        Err(StoreError::Rejected(Rejection::AlreadyInTeam { .. })) => state
            .store
            .get_org_user(&organization.id, &user)
            .await?
            .ok_or_else(|| AppError::UserNotInOrg {
                username: raw_user.clone(),
                org: organization.id.to_string(),
            })?,
        other => other?,
    };
    Ok(Json(OrgUserView::new(changed, now)))
}
