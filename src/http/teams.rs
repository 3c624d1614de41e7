//! Teams of an organization: `/orgs/{orgId}/teams[/{teamId}]`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::limits::{MAX_TEAM_USERS, dedup_by_key};
use orgdoor_domain::{EmailAddress, NewTeam, Team, TeamName};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_team_id, required_name,
};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{TEAMS, limited};
use crate::http::scope::{OrgMember, OrgOwner, OrgScope, ScopeSegment};
use crate::http::versioning::V2023_01_01;
use crate::state::AppState;

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 3] {
    [
        ("/orgs/{orgId}/teams", get(list_teams).post(create_team)),
        // A static segment outranks `{teamId}`, so this is not taken for a team id (nor
        // `byName/{teamName}` for a custom method on `{teamId}`).
        (
            "/orgs/{orgId}/teams/byName/{teamName}",
            get(get_team_by_name),
        ),
        (
            "/orgs/{orgId}/teams/{teamId}",
            get(get_team).patch(rename_team).delete(delete_team),
        ),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &TEAMS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins, as the legacy Go client
/// (`go.mongodb.org/atlas` `TeamsService`) calls them.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

fn team_link(base: &BaseUrl, team: &Team) -> Vec<Link> {
    vec![Link::self_link(
        base,
        &format!("/orgs/{}/teams/{}", team.org_id, team.id),
    )]
}

/// `TeamResponse`.
#[derive(Serialize)]
pub struct TeamView {
    id: String,
    links: Vec<Link>,
    name: String,
}

impl TeamView {
    fn new(base: &BaseUrl, team: Team) -> Self {
        Self {
            links: team_link(base, &team),
            id: team.id.into(),
            name: team.name.to_string(),
        }
    }
}

/// `Team`, the answer to a create: the response of a team together with its members.
#[derive(Serialize)]
struct CreatedTeamView {
    id: String,
    links: Vec<Link>,
    name: String,
    usernames: Vec<String>,
}

#[derive(Deserialize)]
struct TeamRequest {
    name: Option<String>,
    usernames: Option<Vec<String>>,
}

impl RequestBody for TeamRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "links"];
}

#[derive(Deserialize)]
struct TeamUpdateRequest {
    name: Option<String>,
}

impl RequestBody for TeamUpdateRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "links"];
}

async fn list_teams(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<Paginated<TeamView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let page = state.store.list_teams(&organization.id, list.page).await?;
    let path = format!("/orgs/{}/teams", organization.id);
    Ok(Json(Paginated::new(&base, &path, &list, page, |team| {
        TeamView::new(&base, team)
    })))
}

async fn create_team(
    State(state): State<AppState>,
    base: BaseUrl,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<TeamRequest>,
) -> Result<Json<CreatedTeamView>, AppError> {
    let request = body.parse()?;
    let name: TeamName = required_name(request.name)?;
    let usernames = request
        .usernames
        .ok_or_else(|| AppError::MissingAttribute("usernames".into()))?;
    AppError::check_length("usernames", &usernames, MAX_TEAM_USERS)?;
    let members = usernames
        .into_iter()
        .map(|username| {
            username
                .parse::<EmailAddress>()
                .map_err(|_| AppError::InvalidEmailAddress(username))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Addresses compare by their lowercased form (`EmailAddress`'s equality).
    let members = dedup_by_key(members, EmailAddress::key);
    let team = NewTeam {
        org_id: organization.id,
        name,
    }
    .into_team(state.clock.now());
    state.store.create_team(&team, &members).await?;
    Ok(Json(CreatedTeamView {
        links: team_link(&base, &team),
        id: team.id.into(),
        name: team.name.to_string(),
        usernames: members.into_iter().map(String::from).collect(),
    }))
}

async fn get_team(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, team_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<TeamView>, AppError> {
    let id = parse_team_id(&team_id)?;
    let team = state
        .store
        .get_team(&organization.id, &id)
        .await?
        .ok_or_else(|| AppError::TeamNotFound(team_id))?;
    Ok(Json(TeamView::new(&base, team)))
}

/// The organization's team of that name, compared without regard to letter case.
async fn get_team_by_name(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, raw_name)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgMember>,
) -> Result<Json<TeamView>, AppError> {
    // A name no team could have names no team.
    let Ok(name) = TeamName::parse(raw_name.clone()) else {
        return Err(AppError::TeamNameNotFound(raw_name));
    };
    let team = state
        .store
        .find_team_by_name(&organization.id, &name)
        .await?
        .ok_or(AppError::TeamNameNotFound(raw_name))?;
    Ok(Json(TeamView::new(&base, team)))
}

async fn rename_team(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, team_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<TeamUpdateRequest>,
) -> Result<Json<TeamView>, AppError> {
    let request = body.parse()?;
    let id = parse_team_id(&team_id)?;
    let name: TeamName = required_name(request.name)?;
    let team = state
        .store
        .rename_team(&organization.id, &id, &name)
        .await?;
    Ok(Json(TeamView::new(&base, team)))
}

async fn delete_team(
    State(state): State<AppState>,
    AtlasPath((_, team_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = parse_team_id(&team_id)?;
    state.store.delete_team(&organization.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
