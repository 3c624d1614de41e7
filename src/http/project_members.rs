//! Teams with a role in a project (`/groups/{groupId}/teams…`); its users are
//! [`crate::http::project_users`]. Outside the contract's cut, but Terraform's project resource
//! and the v1.0 client libraries manage project access through them. Reads need Project Read
//! Only, writes Project Owner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::limits::{MAX_PROJECT_TEAMS, dedup_by_key};
use orgdoor_domain::{Group, GroupRole, Page, TeamId};
use orgdoor_store::ProjectTeam;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::http::extract::{
    AtlasJson, AtlasPath, BaseUrl, QueryParams, RequestBody, parse_team_id,
};
use crate::http::operations::ApiRoutes;
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::rate_limits::{PROJECTS, limited};
use crate::http::roles::parse_named_roles;
use crate::http::scope::{GroupOwner, GroupReadOnly, GroupScope, ScopeSegment};
use crate::http::versioning::V2023_01_01;
use crate::state::AppState;

const TEAMS: &str = "/groups/{groupId}/teams";
const TEAM: &str = "/groups/{groupId}/teams/{teamId}";

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [
        (TEAMS, get(list_teams).post(assign_teams)),
        (TEAM, get(get_team).patch(update_team).delete(remove_team)),
    ]
    .map(|(path, methods)| (path, limited(methods, state, &PROJECTS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01])
}

/// `TeamRole`: a team and its roles in the project.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamRoleView {
    links: Vec<Link>,
    role_names: Vec<&'static str>,
    team_id: String,
}

impl TeamRoleView {
    fn new(base: &BaseUrl, group: &Group, team: ProjectTeam) -> Self {
        Self {
            links: vec![Link::self_link(
                base,
                &format!("/groups/{}/teams/{}", group.id, team.team_id),
            )],
            role_names: team.roles.iter().map(GroupRole::as_str).collect(),
            team_id: team.team_id.into(),
        }
    }
}

/// `TeamRole` as a request item.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TeamRoleRequest {
    role_names: Option<Vec<String>>,
    team_id: Option<String>,
}

/// The body of an assignment: a JSON array of `TeamRole`.
#[derive(Deserialize)]
#[serde(transparent)]
struct TeamRolesRequest(Vec<TeamRoleRequest>);

impl RequestBody for TeamRolesRequest {
    const READ_ONLY: &'static [&'static str] = &["links"];
    const IS_ARRAY: bool = true;
}

/// The body of a role update: `{"roleNames": [...]}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleNamesRequest {
    role_names: Option<Vec<String>>,
}

impl RequestBody for RoleNamesRequest {
    const READ_ONLY: &'static [&'static str] = &["links", "teamId"];
}

/// A page of the project's teams.
fn team_page(
    base: &BaseUrl,
    group: &Group,
    list: &ListQuery,
    teams: Vec<ProjectTeam>,
) -> Json<Paginated<TeamRoleView>> {
    let page = Page::of_all(teams, list.page);
    let path = format!("/groups/{}/teams", group.id);
    Json(Paginated::new(base, &path, list, page, |team| {
        TeamRoleView::new(base, group, team)
    }))
}

async fn list_teams(
    State(state): State<AppState>,
    base: BaseUrl,
    query: QueryParams,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<Paginated<TeamRoleView>>, AppError> {
    let list = ListQuery::from_query(&query)?;
    let teams = state.store.list_project_teams(&group.id).await?;
    Ok(team_page(&base, &group, &list, teams))
}

/// Gives teams roles in the project; answers with every team the project has.
async fn assign_teams(
    State(state): State<AppState>,
    base: BaseUrl,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<TeamRolesRequest>,
) -> Result<Json<Paginated<TeamRoleView>>, AppError> {
    let TeamRolesRequest(requests) = body.parse()?;
    if requests.is_empty() {
        return Err(AppError::MissingAttribute("teamId".into()));
    }
    AppError::check_length("teamId", &requests, MAX_PROJECT_TEAMS)?;
    let mut teams = requests
        .into_iter()
        .map(|request| {
            let raw_team = request
                .team_id
                .ok_or_else(|| AppError::MissingAttribute("teamId".into()))?;
            Ok(ProjectTeam {
                team_id: parse_team_id(&raw_team)?,
                roles: parse_named_roles("roleNames", request.role_names, &group)?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    // The last assignment of a team wins, in the place of that last one, as a replacement
    // would: keep the first of each team counting from the end.
    teams.reverse();
    let mut teams = dedup_by_key(teams, |team| team.team_id.clone());
    teams.reverse();
    state
        .store
        .assign_project_teams(&group.id, &teams, state.clock.now())
        .await?;
    let list = ListQuery::from_query(&QueryParams::default())?;
    let teams = state.store.list_project_teams(&group.id).await?;
    Ok(team_page(&base, &group, &list, teams))
}

/// One team's roles in the project; a team without any is not found there.
async fn get_team(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, raw_team)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupReadOnly>,
) -> Result<Json<TeamRoleView>, AppError> {
    let team_id = parse_team_id(&raw_team)?;
    let team = state
        .store
        .list_project_teams(&group.id)
        .await?
        .into_iter()
        .find(|team| team.team_id == team_id)
        .ok_or(AppError::TeamNotFound(raw_team))?;
    Ok(Json(TeamRoleView::new(&base, &group, team)))
}

/// Replaces one team's roles; answers with that team.
async fn update_team(
    State(state): State<AppState>,
    base: BaseUrl,
    AtlasPath((_, raw_team)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
    body: AtlasJson<RoleNamesRequest>,
) -> Result<Json<Paginated<TeamRoleView>>, AppError> {
    let request = body.parse()?;
    let team_id = parse_team_id(&raw_team)?;
    let roles = parse_named_roles("roleNames", request.role_names, &group)?;
    let assigned = state.store.list_project_teams(&group.id).await?;
    if !assigned.iter().any(|team| team.team_id == team_id) {
        return Err(AppError::TeamNotFound(raw_team));
    }
    let team = ProjectTeam { team_id, roles };
    state
        .store
        .assign_project_teams(&group.id, std::slice::from_ref(&team), state.clock.now())
        .await?;
    let list = ListQuery::from_query(&QueryParams::default())?;
    Ok(team_page(&base, &group, &list, vec![team]))
}

async fn remove_team(
    State(state): State<AppState>,
    AtlasPath((_, raw_team)): AtlasPath<(ScopeSegment, String)>,
    GroupScope(group, _): GroupScope<GroupOwner>,
) -> Result<StatusCode, AppError> {
    let team_id: TeamId = parse_team_id(&raw_team)?;
    state.store.remove_project_team(&group.id, &team_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
