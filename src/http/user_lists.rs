//! What the user resources (organization users, team members, project users, `/users`) share: the
//! members-only `CloudAppUser` shape (it links back, so it needs the request), which versions show
//! it, the server-set attributes user bodies may send back, the status and list filters read from
//! the query (and one user looked up by the status filter), a page of users in the version's shape,
//! and inviting someone into the organization (which makes them a pending user; the invitations
//! resource does it too).

use axum::body::Bytes;
use axum::response::Response;
use orgdoor_domain::{
    GroupId, Invitation, Member, MembershipStatus, NewInvitation, OrgId, OrgUser, Organization,
    TeamId,
};
use orgdoor_store::{OrgUserFilter, WhenPending};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::AppError;
use crate::http::extract::{BaseUrl, QueryParams, parse_user_id};
use crate::http::pagination::{Link, ListQuery, Paginated};
use crate::http::render::{render_json, rendered_response};
use crate::http::versioning::{ApiVersion, V2023_01_01_DEPRECATED};
use crate::mail::{InvitationNotice, invitation_letter};
use crate::state::AppState;
use crate::views::{OrgUserView, atlas_timestamp};

/// Members only, as `CloudAppUser`s: the deprecated 2023-01-01 version and v1.0.
pub fn members_only(version: ApiVersion) -> bool {
    matches!(version, ApiVersion::Legacy) || version == ApiVersion::Dated(&V2023_01_01_DEPRECATED)
}

/// Server-set attributes of `OrgUserResponse` and `GroupUserResponse` (both a `UserView`),
/// which request bodies may send back.
pub const USER_READ_ONLY: &[&str] = &[
    "id",
    "orgMembershipStatus",
    "invitationCreatedAt",
    "invitationExpiresAt",
    "inviterUsername",
    "country",
    "createdAt",
    "firstName",
    "lastAuth",
    "lastName",
    "mobileNumber",
];

/// `CloudAccessRoleAssignment`: one role in one organization or one project (users and API
/// keys show their roles alike).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentView {
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<String>,
    role_name: &'static str,
}

impl RoleAssignmentView {
    /// A role in an organization.
    pub fn in_org(org_id: &OrgId, role_name: &'static str) -> Self {
        Self {
            group_id: None,
            org_id: Some(org_id.to_string()),
            role_name,
        }
    }

    /// A role in a project.
    pub fn in_group(group_id: &GroupId, role_name: &'static str) -> Self {
        Self {
            group_id: Some(group_id.to_string()),
            org_id: None,
            role_name,
        }
    }
}

/// `CloudAppUser`: a member as the 2023-01-01 version and the `/users` look-ups show them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudAppUserView {
    country: String,
    created_at: String,
    email_address: String,
    first_name: String,
    id: String,
    last_name: String,
    links: Vec<Link>,
    mobile_number: String,
    roles: Vec<RoleAssignmentView>,
    team_ids: Vec<String>,
    username: String,
}

impl CloudAppUserView {
    /// The person with the roles and teams of the given memberships.
    pub fn new(base: &BaseUrl, user: orgdoor_domain::User, memberships: &[Member]) -> Self {
        let mut roles = Vec::new();
        let mut team_ids = Vec::new();
        for membership in memberships {
            roles.extend(
                membership
                    .roles
                    .iter()
                    .map(|role| RoleAssignmentView::in_org(&membership.org_id, role.as_str())),
            );
            roles.extend(membership.group_role_assignments.iter().map(|assignment| {
                RoleAssignmentView::in_group(&assignment.group_id, assignment.role.as_str())
            }));
            team_ids.extend(membership.team_ids.iter().map(TeamId::to_string));
        }
        Self {
            country: user.profile.country,
            created_at: atlas_timestamp(user.created_at),
            email_address: user.username.to_string(),
            first_name: user.profile.first_name,
            links: vec![Link::self_link(base, &format!("/users/{}", user.id))],
            id: user.id.into(),
            last_name: user.profile.last_name,
            mobile_number: user.profile.mobile_number,
            roles,
            team_ids,
            username: user.username.into(),
        }
    }
}

/// The status filter of a list: `orgMembershipStatuses` (repeatable, at most four) or the
/// deprecated single `orgMembershipStatus`, never both; ACTIVE and PENDING by default.
pub fn status_filter(query: &QueryParams) -> Result<Vec<MembershipStatus>, AppError> {
    const MANY: &str = "orgMembershipStatuses";
    const ONE: &str = "orgMembershipStatus";
    let many: Vec<&str> = query.all(MANY).collect();
    let one: Vec<&str> = query.all(ONE).collect();
    if !many.is_empty() && !one.is_empty() {
        return Err(AppError::MutuallyExclusiveQueryParameters(ONE, MANY));
    }
    let (name, values) = if one.is_empty() {
        (MANY, many)
    } else {
        (ONE, one)
    };
    if values.len() > if name == ONE { 1 } else { 4 } {
        return Err(AppError::InvalidQueryParameter(name.to_owned()));
    }
    let mut statuses = values
        .into_iter()
        .map(|value| {
            value
                .parse()
                .map_err(|_| AppError::InvalidQueryParameter(name.to_owned()))
        })
        .collect::<Result<Vec<MembershipStatus>, _>>()?;
    if statuses.is_empty() {
        statuses = MembershipStatus::DEFAULT.to_vec();
    }
    Ok(statuses)
}

/// The organization's user `raw_user` (a path segment) names, if their status as of `now` is
/// one the query's status filter admits.
pub async fn find_org_user(
    state: &AppState,
    org_id: &OrgId,
    raw_user: &str,
    query: &QueryParams,
    now: OffsetDateTime,
) -> Result<Option<OrgUser>, AppError> {
    let id = parse_user_id(raw_user)?;
    let statuses = status_filter(query)?;
    Ok(state
        .store
        .get_org_user(org_id, &id)
        .await?
        .filter(|user| statuses.contains(&user.status(now))))
}

/// The filter of a list request; the 2023-01-01 version and v1.0 list members only and ignore
/// the status and username filters ("not supported" there).
pub fn list_filter(
    query: &QueryParams,
    version: ApiVersion,
    team: Option<TeamId>,
) -> Result<OrgUserFilter, AppError> {
    if members_only(version) {
        return Ok(OrgUserFilter {
            statuses: vec![MembershipStatus::Active],
            username: None,
            user_id: None,
            team,
            project: None,
        });
    }
    let user_id = match (&team, query.get("userId")) {
        (Some(_), Some(raw)) => Some(
            raw.parse()
                .map_err(|_| AppError::InvalidQueryParameter("userId".into()))?,
        ),
        _ => None,
    };
    Ok(OrgUserFilter {
        statuses: status_filter(query)?,
        username: query.email("username")?,
        user_id,
        team,
        project: None,
    })
}

/// A paginated list of the members of `page` as `CloudAppUser`s, for the versions that show
/// members only ([`members_only`]); the total stays the store's, as Atlas counts it.
pub fn member_list(
    base: &BaseUrl,
    path: &str,
    list: &ListQuery,
    page: orgdoor_domain::Page<OrgUser>,
) -> Response {
    rendered_response(render_member_list(base, path, list, page))
}

fn render_member_list(
    base: &BaseUrl,
    path: &str,
    list: &ListQuery,
    page: orgdoor_domain::Page<OrgUser>,
) -> Result<Bytes, AppError> {
    // These versions' filter admits members only.
    let members = orgdoor_domain::Page {
        items: page
            .items
            .into_iter()
            .filter_map(|user| match user {
                OrgUser::Member(member) => Some(member),
                OrgUser::Invited(_) => None,
            })
            .collect(),
        total_count: page.total_count,
    };
    let capacity = members.items.len() * RENDERED_USER_BYTES + RENDERED_PAGE_BYTES;
    render_json(
        &Paginated::new(base, path, list, members, |member| {
            CloudAppUserView::new(base, member.user.clone(), std::slice::from_ref(&member))
        }),
        capacity,
    )
}

/// Bytes one rendered user takes, generously, and what a page adds (links, count).
const RENDERED_USER_BYTES: usize = 400;
const RENDERED_PAGE_BYTES: usize = 512;

/// A paginated list in the version's item shape.
pub fn user_list(
    base: &BaseUrl,
    path: &str,
    list: &ListQuery,
    page: orgdoor_domain::Page<OrgUser>,
    version: ApiVersion,
    now: OffsetDateTime,
) -> Response {
    rendered_response(render_user_list(base, path, list, page, version, now))
}

/// [`user_list`]'s body, to answer now or keep.
pub fn render_user_list(
    base: &BaseUrl,
    path: &str,
    list: &ListQuery,
    page: orgdoor_domain::Page<OrgUser>,
    version: ApiVersion,
    now: OffsetDateTime,
) -> Result<Bytes, AppError> {
    if members_only(version) {
        render_member_list(base, path, list, page)
    } else {
        let capacity = page.items.len() * RENDERED_USER_BYTES + RENDERED_PAGE_BYTES;
        render_json(
            &Paginated::new(base, path, list, page, |user| OrgUserView::new(user, now)),
            capacity,
        )
    }
}

/// Invites someone into `organization` as of `now`: stores the invitation with its letter
/// (`when_pending` says what becomes of one already pending for the address) and wakes the
/// outbox to send it.
pub async fn invite_into_org(
    state: &AppState,
    organization: &Organization,
    invitation: NewInvitation,
    when_pending: WhenPending,
    now: OffsetDateTime,
) -> Result<Invitation, AppError> {
    let invitation = invitation.into_invitation(now);
    let notice = InvitationNotice::Organization(organization);
    let letter = invitation_letter(&state.public_url, notice, &invitation, now);
    let invitation = state
        .store
        .invite(&invitation, when_pending, Some(&letter), now)
        .await?;
    state.outbox_posted.notify_one();
    Ok(invitation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::from_pairs(pairs)
    }

    #[test]
    fn statuses_default_to_active_and_pending() {
        assert_eq!(
            status_filter(&query(&[])).expect("default"),
            MembershipStatus::DEFAULT.to_vec()
        );
    }

    #[test]
    fn statuses_repeat_up_to_four_and_exclude_the_deprecated_form() {
        let many = query(&[
            ("orgMembershipStatuses", "PENDING"),
            ("orgMembershipStatuses", "INVITATION_EXPIRED"),
        ]);
        assert_eq!(
            status_filter(&many).expect("two"),
            vec![
                MembershipStatus::Pending,
                MembershipStatus::InvitationExpired
            ]
        );
        let both = query(&[
            ("orgMembershipStatuses", "PENDING"),
            ("orgMembershipStatus", "ACTIVE"),
        ]);
        assert!(matches!(
            status_filter(&both),
            Err(AppError::MutuallyExclusiveQueryParameters(..))
        ));
        let five = query(&[("orgMembershipStatuses", "ACTIVE"); 5]);
        assert!(matches!(
            status_filter(&five),
            Err(AppError::InvalidQueryParameter(_))
        ));
        assert!(matches!(
            status_filter(&query(&[("orgMembershipStatus", "active")])),
            Err(AppError::InvalidQueryParameter(_))
        ));
    }
}
