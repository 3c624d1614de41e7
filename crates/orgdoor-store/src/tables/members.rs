//! Organization members (`org_members` with `users`), their teams and project roles
//! (`member_project_roles`), and what turns an invitee into one.

use std::collections::HashMap;

use orgdoor_domain::{
    EmailAddress, GroupRole, GroupRoleAssignment, Invitation, Member, MembershipUpdate, OrgId,
    OrgUser, ProfileChoices, User, UserId,
};
use time::OffsetDateTime;

use crate::rows::{
    MEMBER_COLUMNS, MemberRow, USER_COLUMNS, UserRow, encode_roles, parse, seconds, write_error,
};
use crate::sql::{Connection, Parameters};
use crate::tables::events::record_org_user_changes;
use crate::tables::invitations::{check_references, fetch_invitation, update_invitation_row};
use crate::tables::position;
use crate::tables::teams::{check_team_size, insert_team_member};
use crate::{InvitationSelector, Rejection, StoreError, UserSelector};

/// Which memberships to read.
pub(crate) enum MemberScope<'a> {
    One(&'a OrgId, &'a UserId),
    /// These members of the organization (as a page of a list names them).
    Some(&'a OrgId, &'a [UserId]),
    Person(&'a UserId),
}

impl MemberScope<'_> {
    /// The condition on a table aliased `m` with `org_id` and `user_id` columns, its values
    /// added to `values`.
    fn condition(&self, values: &mut Parameters) -> String {
        match self {
            MemberScope::One(org, user) => {
                format!(
                    "m.org_id = {} AND m.user_id = {}",
                    values.text(org.as_str()),
                    values.text(user.as_str())
                )
            }
            MemberScope::Some(org, users) => {
                let org = values.text(org.as_str());
                let users = values.texts(users.iter().map(UserId::as_str));
                format!("m.org_id = {org} AND m.user_id IN ({users})")
            }
            MemberScope::Person(user) => format!("m.user_id = {}", values.text(user.as_str())),
        }
    }
}

/// `(org_id, user_id, team_id)`.
type MemberTeamRow = (String, String, String);
/// `(org_id, user_id, project_id, role)`.
type MemberRoleRow = (String, String, String, String);

/// Members in `scope` with their teams and project roles, by address; with `lock`, their rows
/// stay locked until the transaction ends.
pub(crate) async fn fetch_members<C: Connection>(
    conn: &mut C,
    scope: MemberScope<'_>,
    lock: bool,
) -> Result<Vec<Member>, StoreError> {
    // `IN ()` is a syntax error, and there is nothing to read.
    if matches!(scope, MemberScope::Some(_, [])) {
        return Ok(Vec::new());
    }
    let mut values = Parameters::default();
    let condition = scope.condition(&mut values);
    let lock = if lock { C::LOCK_ROWS } else { "" };
    let byte_order = C::BYTE_ORDER;
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id \
         WHERE {condition} ORDER BY u.username_key{byte_order}, m.org_id{lock}"
    );
    let rows: Vec<MemberRow> = values.bind(conn.query(&sql)).fetch_all().await?;
    let mut members = rows
        .into_iter()
        .map(Member::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if members.is_empty() {
        return Ok(members);
    }
    let teams_sql = format!(
        "SELECT m.org_id, m.user_id, m.team_id FROM team_members m WHERE {condition} \
         ORDER BY m.added_at, m.team_id"
    );
    let teams: Vec<MemberTeamRow> = values.bind(conn.query(&teams_sql)).fetch_all().await?;
    let roles_sql = format!(
        "SELECT m.org_id, m.user_id, m.project_id, m.role FROM member_project_roles m \
         WHERE {condition} ORDER BY m.position"
    );
    let roles: Vec<MemberRoleRow> = values.bind(conn.query(&roles_sql)).fetch_all().await?;
    let index: HashMap<(String, String), usize> = members
        .iter()
        .enumerate()
        .map(|(position, member)| {
            let key = (
                member.org_id.as_str().to_owned(),
                member.user.id.as_str().to_owned(),
            );
            (key, position)
        })
        .collect();
    for (org_id, user_id, team_id) in teams {
        if let Some(&position) = index.get(&(org_id, user_id)) {
            members[position].team_ids.push(parse(&team_id, "team id")?);
        }
    }
    for (org_id, user_id, project_id, role) in roles {
        if let Some(&position) = index.get(&(org_id, user_id)) {
            members[position]
                .group_role_assignments
                .push(GroupRoleAssignment {
                    group_id: parse(&project_id, "project id")?,
                    role: parse::<GroupRole>(&role, "project role")?,
                });
        }
    }
    Ok(members)
}

pub(crate) async fn fetch_member<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    id: &UserId,
    lock: bool,
) -> Result<Option<Member>, StoreError> {
    Ok(fetch_members(conn, MemberScope::One(org, id), lock)
        .await?
        .pop())
}

/// Rewrites the stored teams and/or project roles of a member from `member`.
async fn replace_member_children<C: Connection>(
    conn: &mut C,
    member: &Member,
    teams: bool,
    project_roles: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let (org, user) = (member.org_id.as_str(), member.user.id.as_str());
    if teams {
        conn.query("DELETE FROM team_members WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .execute()
            .await?;
        for team in &member.team_ids {
            insert_team_member(conn, &member.org_id, team, &member.user.id, now).await?;
        }
    }
    if project_roles {
        conn.query("DELETE FROM member_project_roles WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user)
            .execute()
            .await?;
        for (index, assignment) in member.group_role_assignments.iter().enumerate() {
            conn.query(
                "INSERT INTO member_project_roles (org_id, user_id, project_id, role, position) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(org)
            .bind(user)
            .bind(assignment.group_id.as_str())
            .bind(assignment.role.as_str())
            .bind(position(index))
            .execute()
            .await?;
        }
    }
    Ok(())
}

/// Why `who` (a user id or an address, in `column` of `invitations`) cannot join a team:
/// pending, or not in the organization.
pub(crate) async fn not_a_member<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    column: &str,
    value: &str,
    who: String,
    now: OffsetDateTime,
) -> Result<StoreError, StoreError> {
    let pending: Option<String> = conn
        .query(&format!(
            "SELECT id FROM invitations WHERE org_id = $1 AND {column} = $2 \
             AND declined_at IS NULL AND expires_at > $3"
        ))
        .bind(org.as_str())
        .bind(value)
        .bind(seconds(now))
        .fetch_optional_scalar()
        .await?;
    Ok(match pending {
        Some(_) => Rejection::PendingUser(who).into(),
        None => Rejection::user_not_in_org(who, org).into(),
    })
}

/// The id of the member of `org` with this address, if there is one.
pub(crate) async fn member_by_username<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    username: &EmailAddress,
) -> Result<Option<UserId>, StoreError> {
    let user: Option<String> = conn
        .query(
            "SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND u.username_key = $2",
        )
        .bind(org.as_str())
        .bind(username.key())
        .fetch_optional_scalar()
        .await?;
    user.map(|id| parse(&id, "user id")).transpose()
}

/// Applies `update` to a member read under lock.
pub(crate) async fn update_member_row<C: Connection>(
    conn: &mut C,
    mut member: Member,
    update: MembershipUpdate,
    now: OffsetDateTime,
) -> Result<Member, StoreError> {
    check_references(conn, &member.org_id, update.team_ids(), &update.group_ids()).await?;
    let (teams_changed, roles_changed) = (
        update.team_ids.is_some(),
        update.group_role_assignments.is_some(),
    );
    member.apply(update);
    conn.query("UPDATE org_members SET roles = $1 WHERE org_id = $2 AND user_id = $3")
        .bind(encode_roles(&member.roles))
        .bind(member.org_id.as_str())
        .bind(member.user.id.as_str())
        .execute()
        .await?;
    replace_member_children(conn, &member, teams_changed, roles_changed, now).await?;
    if teams_changed {
        for team in &member.team_ids {
            check_team_size(conn, team).await?;
        }
    }
    Ok(member)
}

/// Applies `update` to a member or pending invitee read under lock.
pub(crate) async fn update_org_user_row<C: Connection>(
    conn: &mut C,
    user: OrgUser,
    update: MembershipUpdate,
    now: OffsetDateTime,
) -> Result<OrgUser, StoreError> {
    Ok(match user {
        OrgUser::Member(member) => {
            OrgUser::Member(update_member_row(conn, member, update, now).await?)
        }
        OrgUser::Invited(invitation) => {
            OrgUser::Invited(update_invitation_row(conn, invitation, update).await?)
        }
    })
}

/// Reads the member or pending invitee `id` under lock and applies the update `change` makes
/// from what it holds now (or refuses with `change`'s error), recording the events of what
/// changed.
pub(crate) async fn change_current_org_user<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    id: &UserId,
    now: OffsetDateTime,
    change: impl FnOnce(&OrgUser) -> Result<MembershipUpdate, StoreError>,
) -> Result<OrgUser, StoreError> {
    let user = lock_current_org_user(conn, org, id, now).await?;
    let update = change(&user)?;
    let changed = update_org_user_row(conn, user.clone(), update, now).await?;
    record_org_user_changes(conn, org, &user, &changed).await?;
    Ok(changed)
}

/// The member or pending invitee `id`, locked, or [`Rejection::UserNotInOrg`].
pub(crate) async fn lock_current_org_user<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    id: &UserId,
    now: OffsetDateTime,
) -> Result<OrgUser, StoreError> {
    if let Some(member) = fetch_member(conn, org, id, true).await? {
        return Ok(OrgUser::Member(member));
    }
    fetch_invitation(conn, org, &InvitationSelector::UserId(id.clone()), true)
        .await?
        .filter(|invitation| invitation.is_pending(now))
        .map(OrgUser::Invited)
        .ok_or_else(|| Rejection::user_not_in_org(id, org).into())
}

/// The account a selector names, if the person has one.
pub(crate) async fn fetch_user<C: Connection>(
    conn: &mut C,
    selector: &UserSelector,
) -> Result<Option<User>, StoreError> {
    let (column, value) = match selector {
        UserSelector::Id(id) => ("id", id.as_str().to_owned()),
        UserSelector::Username(username) => ("username_key", username.key()),
    };
    let row: Option<UserRow> = conn
        .query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional()
        .await?;
    row.map(User::try_from).transpose()
}

/// Makes the invitee a member: account (if new), membership, teams, project roles; the
/// invitation ends, and the person's other invitations take their account's id.
pub(crate) async fn accept_invitation<C: Connection>(
    conn: &mut C,
    invitation: Invitation,
    profile: ProfileChoices,
    now: OffsetDateTime,
) -> Result<Member, StoreError> {
    let now = orgdoor_domain::truncate_to_seconds(now);
    let existing = fetch_user(conn, &UserSelector::Username(invitation.username.clone())).await?;
    let user = match existing {
        Some(user) => user,
        None => {
            let user = User {
                id: invitation.user_id.clone(),
                username: invitation.username.clone(),
                profile: profile.for_user(&invitation.username),
                created_at: now,
            };
            conn.query(&format!(
                "INSERT INTO users ({USER_COLUMNS}, username_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(user.id.as_str())
            .bind(user.username.as_str())
            .bind(user.profile.first_name.as_str())
            .bind(user.profile.last_name.as_str())
            .bind(user.profile.country.as_str())
            .bind(user.profile.mobile_number.as_str())
            .bind(seconds(user.created_at))
            .bind(user.username.key())
            .execute()
            .await?;
            user
        }
    };
    conn.query(
        "INSERT INTO org_members (org_id, user_id, roles, joined_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(invitation.org_id.as_str())
    .bind(user.id.as_str())
    .bind(encode_roles(&invitation.roles))
    .bind(seconds(now))
    .execute()
    .await
    .map_err(|error| {
        write_error(error, &invitation.org_id, || {
            Rejection::UsernameTaken(invitation.username.clone())
        })
    })?;
    let member = Member {
        user,
        org_id: invitation.org_id.clone(),
        roles: invitation.roles.clone(),
        team_ids: invitation.team_ids.clone(),
        group_role_assignments: invitation.group_role_assignments.clone(),
        joined_at: now,
    };
    replace_member_children(conn, &member, true, true, now).await?;
    for team in &member.team_ids {
        check_team_size(conn, team).await?;
    }
    conn.query("DELETE FROM invitations WHERE id = $1")
        .bind(invitation.id.as_str())
        .execute()
        .await?;
    conn.query("UPDATE invitations SET user_id = $1 WHERE username_key = $2 AND user_id <> $1")
        .bind(member.user.id.as_str())
        .bind(invitation.username.key())
        .execute()
        .await?;
    Ok(member)
}
