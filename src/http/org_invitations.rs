//! Organization invitations: `/orgs/{orgId}/invites[/{invitationId}]`, in v2 (deprecated
//! 2023-01-01) and as the legacy v1.0 twins. Every operation needs Organization Owner.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use orgdoor_domain::limits::{MAX_GROUP_ROLE_ASSIGNMENTS, MAX_ROLES};
use orgdoor_domain::{
    GroupId, GroupRoleAssignment, Invitation, MembershipUpdate, NewInvitation, OrgId, Organization,
};
use orgdoor_store::{InvitationSelector, Rejection, StoreError, WhenPending};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::error::AppError;
use crate::held_views::{Lookup, RenderedView, ViewKey};
use crate::http::extract::{
    AtlasJson, AtlasPath, QueryParams, RequestBody, parse_invitation_id, parse_team_ids,
};
use crate::http::operations::ApiRoutes;
use crate::http::rate_limits::{ORGANIZATIONS, limited};
use crate::http::render::{json_response, render_json};
use crate::http::roles::{parse_group_role, parse_org_roles, parse_username};
use crate::http::scope::{OrgOwner, OrgScope, ScopeSegment};
use crate::http::user_lists::invite_into_org;
use crate::http::versioning::V2023_01_01_DEPRECATED;
use crate::state::AppState;
use crate::views::InvitationView;

const COLLECTION: &str = "/orgs/{orgId}/invites";
const ITEM: &str = "/orgs/{orgId}/invites/{invitationId}";

fn collection() -> MethodRouter<AppState> {
    get(list_invitations)
        .post(create_invitation)
        .patch(update_invitation_by_username)
}

fn item() -> MethodRouter<AppState> {
    get(get_invitation)
        .patch(update_invitation_by_id)
        .delete(delete_invitation)
}

fn method_routers(state: &AppState) -> [(&'static str, MethodRouter<AppState>); 2] {
    [(COLLECTION, collection()), (ITEM, item())]
        .map(|(path, methods)| (path, limited(methods, state, &ORGANIZATIONS)))
}

/// The v2 operations (2023-01-01) and their `/api/atlas/v1.0` twins.
pub fn routes(state: &AppState) -> ApiRoutes {
    ApiRoutes::v2_and_legacy(method_routers(state), state, &[V2023_01_01_DEPRECATED])
}

/// An organization's pending invitations, rendered one at a time into a body sized for them:
/// the list is unpaginated and may run to tens of thousands.
struct InvitationList {
    organization: Organization,
    invitations: Vec<Invitation>,
}

/// Bytes one rendered invitation takes, generously (about 250 with Atlas-length values).
const RENDERED_INVITATION_BYTES: usize = 320;

impl Serialize for InvitationList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.invitations
                .iter()
                .map(|invitation| InvitationView::new(&self.organization, invitation)),
        )
    }
}

impl InvitationList {
    fn render(&self) -> Result<Bytes, AppError> {
        render_json(self, self.invitations.len() * RENDERED_INVITATION_BYTES + 2)
    }
}

/// Server-set attributes of `OrganizationInvitation`.
const READ_ONLY: &[&str] = &[
    "createdAt",
    "expiresAt",
    "id",
    "inviterUsername",
    "links",
    "orgId",
    "orgName",
];

/// `OrganizationInvitationGroupRoleAssignmentsRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRoleAssignmentsRequest {
    group_id: Option<String>,
    roles: Option<Vec<String>>,
}

/// `OrganizationInvitationRequest`: the body of create and of update-by-username.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvitationRequest {
    group_role_assignments: Option<Vec<GroupRoleAssignmentsRequest>>,
    roles: Option<Vec<String>>,
    team_ids: Option<Vec<String>>,
    username: Option<String>,
}

impl RequestBody for InvitationRequest {
    const READ_ONLY: &'static [&'static str] = READ_ONLY;
}

/// `OrganizationInvitationUpdateRequest`: as above without `username`, which is fixed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvitationUpdateRequest {
    group_role_assignments: Option<Vec<GroupRoleAssignmentsRequest>>,
    roles: Option<Vec<String>>,
    team_ids: Option<Vec<String>>,
}

impl RequestBody for InvitationUpdateRequest {
    const READ_ONLY: &'static [&'static str] = READ_ONLY;
    const FIXED: &'static [&'static str] = &["username"];
}

fn parse_group_role_assignments(
    requests: Vec<GroupRoleAssignmentsRequest>,
) -> Result<Vec<GroupRoleAssignment>, AppError> {
    AppError::check_length(
        "groupRoleAssignments",
        &requests,
        MAX_GROUP_ROLE_ASSIGNMENTS,
    )?;
    let mut assignments = Vec::new();
    for request in requests {
        let raw_group = request
            .group_id
            .ok_or_else(|| AppError::MissingAttribute("groupRoleAssignments.groupId".into()))?;
        let group_id: GroupId = crate::http::extract::parse_group_id(&raw_group)?;
        let roles = request
            .roles
            .filter(|roles| !roles.is_empty())
            .ok_or_else(|| AppError::MissingAttribute("groupRoleAssignments.roles".into()))?;
        AppError::check_length("groupRoleAssignments.roles", &roles, MAX_ROLES)?;
        for role in roles {
            let role = parse_group_role(role, &raw_group)?;
            assignments.push(GroupRoleAssignment {
                group_id: group_id.clone(),
                role,
            });
        }
    }
    Ok(assignments)
}

fn parse_update(
    roles: Option<Vec<String>>,
    team_ids: Option<&[String]>,
    group_role_assignments: Option<Vec<GroupRoleAssignmentsRequest>>,
    org: &OrgId,
) -> Result<MembershipUpdate, AppError> {
    Ok(MembershipUpdate {
        roles: roles.map(|roles| parse_org_roles(roles, org)).transpose()?,
        team_ids: team_ids.map(parse_team_ids).transpose()?,
        group_role_assignments: group_role_assignments
            .map(parse_group_role_assignments)
            .transpose()?,
    })
}

/// The whole list comes from memory while it is held (`held_views`); a list filtered by
/// username is one indexed row, read from the store.
async fn list_invitations(
    State(state): State<AppState>,
    query: QueryParams,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<Response, AppError> {
    let username = query.email("username")?;
    let now = state.clock.now();
    // Only the whole list is held; a filtered one is read each time.
    let turn = match username {
        Some(_) => None,
        None => match state
            .views
            .lookup(&organization.id, &ViewKey::PendingInvitations, now)
            .await
        {
            Lookup::Held(body) => return Ok(json_response(body)),
            Lookup::Read(turn) => Some(turn),
        },
    };
    // One read, the organization with its invitations: its name in the body is read under the
    // lease too, so a rename that committed after the scope read it cannot be held.
    let found = state
        .store
        .get_organization_with_pending_invitations(&organization.id, username.as_ref(), now)
        .await?;
    let Some((organization, invitations)) = found else {
        return Err(AppError::OrgNotFound(organization.id.to_string()));
    };
    let list = InvitationList {
        organization,
        invitations,
    };
    let body = list.render()?;
    if let Some(turn) = turn {
        // The invitations pending now are those pending until the first of them expires.
        let first_expiry = list
            .invitations
            .iter()
            .map(|invitation| invitation.expires_at)
            .min();
        state.views.keep(
            &list.organization.id,
            ViewKey::PendingInvitations,
            turn,
            RenderedView {
                body: body.clone(),
                holds_from: now,
                holds_until: first_expiry,
            },
        );
    }
    Ok(json_response(body))
}

async fn create_invitation(
    State(state): State<AppState>,
    principal: Principal,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<InvitationRequest>,
) -> Result<Json<InvitationView>, AppError> {
    let request = body.parse()?;
    let username = parse_username(request.username)?;
    let roles = parse_org_roles(request.roles.unwrap_or_default(), &organization.id)?;
    let invitation = NewInvitation {
        org_id: organization.id.clone(),
        username,
        roles,
        team_ids: parse_team_ids(request.team_ids.as_deref().unwrap_or_default())?,
        group_role_assignments: parse_group_role_assignments(
            request.group_role_assignments.unwrap_or_default(),
        )?,
        inviter_username: principal.username().to_owned(),
    };
    let now = state.clock.now();
    let invitation =
        invite_into_org(&state, &organization, invitation, WhenPending::Renew, now).await?;
    Ok(Json(InvitationView::new(&organization, &invitation)))
}

/// Applies an update to the pending invitation `selector` names: none is `RESOURCE_NOT_FOUND`
/// (naming the selector), an expired one `ALREADY_EXPIRED`.
async fn update_invitation(
    state: &AppState,
    organization: &Organization,
    selector: InvitationSelector,
    update: MembershipUpdate,
) -> Result<Json<InvitationView>, AppError> {
    let invitation = state
        .store
        .update_pending_invitation(&organization.id, &selector, update, state.clock.now())
        .await?;
    Ok(Json(InvitationView::new(organization, &invitation)))
}

async fn update_invitation_by_username(
    State(state): State<AppState>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<InvitationRequest>,
) -> Result<Json<InvitationView>, AppError> {
    let request = body.parse()?;
    let username = parse_username(request.username)?;
    let update = parse_update(
        request.roles,
        request.team_ids.as_deref(),
        request.group_role_assignments,
        &organization.id,
    )?;
    let selector = InvitationSelector::Username(username);
    update_invitation(&state, &organization, selector, update).await
}

async fn get_invitation(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<Json<InvitationView>, AppError> {
    let id = parse_invitation_id(&invitation_id)?;
    let invitation = state
        .store
        .get_pending_invitation(&organization.id, &id, state.clock.now())
        .await?
        .ok_or(AppError::ResourceNotFound(invitation_id))?;
    Ok(Json(InvitationView::new(&organization, &invitation)))
}

async fn update_invitation_by_id(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
    body: AtlasJson<InvitationUpdateRequest>,
) -> Result<Json<InvitationView>, AppError> {
    let request = body.parse()?;
    let id = parse_invitation_id(&invitation_id)?;
    let update = parse_update(
        request.roles,
        request.team_ids.as_deref(),
        request.group_role_assignments,
        &organization.id,
    )?;
    update_invitation(&state, &organization, InvitationSelector::Id(id), update).await
}

/// Cancels a pending invitation; a missing, expired or malformed one is `INVALID_INVITATION_ID`
/// (this path parameter has no pattern in the spec).
async fn delete_invitation(
    State(state): State<AppState>,
    AtlasPath((_, invitation_id)): AtlasPath<(ScopeSegment, String)>,
    OrgScope(organization, _): OrgScope<OrgOwner>,
) -> Result<StatusCode, AppError> {
    let id = invitation_id
        .parse()
        .map_err(|_| AppError::InvalidInvitationId)?;
    match state
        .store
        .delete_pending_invitation(&organization.id, &id, state.clock.now())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::Rejected(Rejection::InvitationNotFound(_))) => {
            Err(AppError::InvalidInvitationId)
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::extract::parse_body;
    use proptest::prelude::*;

    fn org() -> OrgId {
        "0123456789abcdef01234567".parse().expect("valid id")
    }

    /// CONTRACT's organization and project role enums, written out.
    const ORG_ROLES: [&str; 7] = [
        "ORG_OWNER",
        "ORG_MEMBER",
        "ORG_GROUP_CREATOR",
        "ORG_BILLING_ADMIN",
        "ORG_BILLING_READ_ONLY",
        "ORG_STREAM_PROCESSING_ADMIN",
        "ORG_READ_ONLY",
    ];
    const GROUP_ROLES: [&str; 11] = [
        "GROUP_OWNER",
        "GROUP_CLUSTER_MANAGER",
        "GROUP_STREAM_PROCESSING_OWNER",
        "GROUP_DATA_ACCESS_ADMIN",
        "GROUP_DATA_ACCESS_READ_WRITE",
        "GROUP_DATA_ACCESS_READ_ONLY",
        "GROUP_READ_ONLY",
        "GROUP_SEARCH_INDEX_EDITOR",
        "GROUP_BACKUP_MANAGER",
        "GROUP_OBSERVABILITY_VIEWER",
        "GROUP_DATABASE_ACCESS_ADMIN",
    ];

    /// A role string: mostly real organization roles, then project roles, near misses (letter
    /// case, padding, a letter more) and junk.
    fn role() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(ORG_ROLES.to_vec()).prop_map(str::to_owned),
            2 => proptest::sample::select(GROUP_ROLES.to_vec()).prop_map(str::to_owned),
            2 => (proptest::sample::select(ORG_ROLES.to_vec()), 0..4usize).prop_map(|(role, how)| match how {
                0 => role.to_lowercase(),
                1 => format!("{role}X"),
                2 => format!(" {role}"),
                _ => role.replacen("ORG_", "ORG", 1),
            }),
            1 => "\\PC{0,8}",
        ]
    }

    /// What the rules allow a role list to come to: the roles in first-seen order, or the
    /// errors its elements justify (a project role is `INVALID_ROLE_FOR_ORG`, anything else
    /// unknown `INVALID_ENUM_VALUE`, no role at all `MISSING_ATTRIBUTE`).
    fn expected_roles(roles: &[String]) -> Result<Vec<String>, Vec<String>> {
        let errors: Vec<String> = roles
            .iter()
            .filter(|role| !ORG_ROLES.contains(&role.as_str()))
            .map(|role| {
                if GROUP_ROLES.contains(&role.as_str()) {
                    format!("InvalidRoleForOrg({role})")
                } else {
                    format!("InvalidEnumValue({role})")
                }
            })
            .collect();
        if roles.is_empty() {
            return Err(vec!["MissingAttribute(roles)".to_owned()]);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut unique: Vec<String> = Vec::new();
        for role in roles {
            if !unique.contains(role) {
                unique.push(role.clone());
            }
        }
        Ok(unique)
    }

    fn describe(error: &AppError) -> String {
        match error {
            AppError::InvalidRoleForOrg { role, .. } => format!("InvalidRoleForOrg({role})"),
            AppError::InvalidEnumValue(role) => format!("InvalidEnumValue({role})"),
            AppError::MissingAttribute(name) => format!("MissingAttribute({name})"),
            AppError::InvalidEmailAddress(name) => format!("InvalidEmailAddress({name})"),
            AppError::InvalidTeamId(id) => format!("InvalidTeamId({id})"),
            other => format!("{other:?}"),
        }
    }

    /// A `username`, and whether it is a usable address.
    fn username() -> impl Strategy<Value = (Option<String>, bool)> {
        prop_oneof![
            3 => "[a-z]{1,8}(\\.[a-z]{1,4})?@[a-z]{2,8}\\.(com|org|io)".prop_map(|name| (Some(name), true)),
            2 => proptest::sample::select(vec![
                "", "plain", "a@b", "@example.com", "a@", "a b@example.com", "a@example..com",
                "a@@example.com", "a\\u{0}b@example.com",
            ])
            .prop_map(|name| (Some(name.to_owned()), false)),
            1 => Just((None, false)),
        ]
    }

    /// A team id, and whether it is one (HEX24).
    fn team_id() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            3 => "[a-f0-9]{24}".prop_map(|id| (id, true)),
            1 => "[A-F][a-fA-F0-9]{23}".prop_map(|id| (id, false)),
            1 => "[a-f0-9]{23}|[a-f0-9]{25}|x|".prop_map(|id| (id, false)),
        ]
    }

    proptest! {
        #[test]
        fn role_lists_come_to_what_the_role_enums_allow(roles in proptest::collection::vec(role(), 0..5)) {
            let parsed = parse_org_roles(roles.clone(), &org())
                .map(|parsed| parsed.iter().map(|role| role.as_str().to_owned()).collect::<Vec<_>>())
                .map_err(|error| describe(&error));
            match (parsed, expected_roles(&roles)) {
                (Ok(parsed), Ok(expected)) => prop_assert_eq!(parsed, expected),
                (Err(error), Err(justified)) => prop_assert!(justified.contains(&error), "{} not in {:?}", error, justified),
                (parsed, expected) => prop_assert!(false, "{:?}: got {:?}, expected {:?}", roles, parsed, expected),
            }
        }

        #[test]
        fn invitation_bodies_fail_on_the_field_the_schema_refuses(
            key in proptest::sample::select(vec![
                "username", "roles", "teamIds", "groupRoleAssignments", "id", "orgName", "createdAt", "colour",
            ]),
            kind in 0..8usize,
            text in "[A-Za-z_@.]{0,12}",
            number in any::<i32>(),
        ) {
            use serde_json::json;
            // One field set to a value of each JSON kind; the schema written out as a table.
            let values = [
                json!(null), json!(true), json!(number), json!(text), json!({"k": text}),
                json!([text]), json!([number]), json!([{"groupId": text, "roles": [text]}]),
            ];
            let fits = match key {
                "username" => matches!(kind, 0 | 3),
                "roles" | "teamIds" => matches!(kind, 0 | 5),
                "groupRoleAssignments" => matches!(kind, 0 | 7),
                _ => false,
            };
            let body = json!({ key: values[kind].clone() }).to_string();
            let result = parse_body::<InvitationRequest>(body.as_bytes()).err().map(|error| describe(&error));
            let expected = match key {
                // Server-set: ignored whatever the value (generated clients send them back).
                "id" | "orgName" | "createdAt" => None,
                "colour" => Some("InvalidAttribute(\"colour\")".to_owned()),
                _ if fits => None,
                "roles" | "teamIds" if kind == 6 || kind == 7 => Some(format!("InvalidJsonAttribute(\"{key}[0]\")")),
                "groupRoleAssignments" if matches!(kind, 5 | 6) => Some("InvalidJsonAttribute(\"groupRoleAssignments[0]\")".to_owned()),
                _ => Some(format!("InvalidJsonAttribute({key:?})")),
            };
            prop_assert_eq!(result, expected, "{}", body);
        }

        #[test]
        fn structured_bodies_convert_to_what_the_rules_allow(
            (username, username_ok) in username(),
            roles in proptest::option::of(proptest::collection::vec(role(), 0..3)),
            teams in proptest::option::of(proptest::collection::vec(team_id(), 0..3)),
        ) {
            let team_names: Option<Vec<String>> = teams.as_ref().map(|teams| teams.iter().map(|(id, _)| id.clone()).collect());
            let body = serde_json::json!({"username": username, "roles": roles, "teamIds": team_names});
            let request = parse_body::<InvitationRequest>(body.to_string().as_bytes()).expect("well-typed");
            let converted = parse_username(request.username).and_then(|_| {
                parse_org_roles(request.roles.unwrap_or_default(), &org())?;
                parse_team_ids(request.team_ids.as_deref().unwrap_or_default())
            });
            // Every error the body's bad parts justify; none means it must convert.
            let mut justified = Vec::new();
            match &username {
                None => justified.push("MissingAttribute(username)".to_owned()),
                Some(name) if name.is_empty() => justified.push("MissingAttribute(username)".to_owned()),
                Some(name) if !username_ok => justified.push(format!("InvalidEmailAddress({name})")),
                Some(_) => {}
            }
            if let Err(errors) = expected_roles(roles.as_deref().unwrap_or_default()) {
                justified.extend(errors);
            }
            for (id, ok) in teams.iter().flatten() {
                if !ok {
                    justified.push(format!("InvalidTeamId({id})"));
                }
            }
            match converted {
                Ok(_) => prop_assert!(justified.is_empty(), "{} converted despite {:?}", body, justified),
                Err(error) => {
                    let error = describe(&error);
                    prop_assert!(justified.contains(&error), "{}: {} not in {:?}", body, error, justified);
                }
            }
        }
    }
}
