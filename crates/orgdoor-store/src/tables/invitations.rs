//! `invitations` with their teams (`invitation_teams`) and project roles
//! (`invitation_project_roles`).

use std::collections::HashMap;

use orgdoor_domain::{
    EmailAddress, Group, GroupId, GroupRole, GroupRoleAssignment, Invitation, InvitationId,
    InvitationLetter, LinkTokenHash, MembershipUpdate, OrgId, TeamId, UserId, roles_in,
    with_roles_in,
};
use time::OffsetDateTime;

use crate::rows::{
    INVITATION_COLUMNS, InvitationList, InvitationRow, encode_roles, parse, seconds, write_error,
};
use crate::sql::{Connection, Parameters, Statement};
use crate::tables::events::{EVENT_COLUMNS, NewEventRow};
use crate::tables::position;
use crate::{InvitationSelector, Rejection, StoreError, WhenPending};

/// A scalar subquery: the invitations (`invitations i`) that `condition` selects, in `order`,
/// with their teams and project roles, as one JSON array of `InvitationJsonRow`s (selected
/// `AS invitations`, it reads as an [`InvitationList`]). sqlx's SQLite driver hands each row of a
/// result from its worker thread on its own — a pair of context switches per row when the
/// server's core is otherwise idle, some 20,000 for a list of 10,000 — and every statement
/// costs another hand-off, so a list is one value of one statement.
pub(crate) fn invitations_json<C: Connection>(condition: &str, order: &str) -> String {
    let (array, agg, nested) = (C::JSON_ARRAY, C::JSON_AGG, C::JSON_NESTED);
    let columns = INVITATION_COLUMNS
        .split(", ")
        .map(|column| format!("i.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "(SELECT CAST({agg}({array}({columns}, \
             {nested}((SELECT {agg}(t.team_id ORDER BY t.position) \
                 FROM invitation_teams t WHERE t.invitation_id = i.id)), \
             {nested}((SELECT {agg}({array}(r.project_id, r.role) ORDER BY r.position) \
                 FROM invitation_project_roles r WHERE r.invitation_id = i.id))) \
         ORDER BY {order}) AS TEXT) FROM invitations i WHERE {condition})"
    )
}

/// These invitations of an organization (as a page of a list names them), whatever their
/// status, by address.
pub(crate) async fn fetch_some_invitations<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    ids: &[InvitationId],
) -> Result<Vec<Invitation>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut values = Parameters::default();
    let ids = values.texts(ids.iter().map(InvitationId::as_str));
    // By primary key alone: with `i.org_id = …` beside it, SQLite walks the whole
    // organization's index instead (10,000 entries for a page of 100). The organization is
    // checked on what comes back.
    let condition = format!("i.id IN ({ids})");
    let order = format!("i.username_key{}", C::BYTE_ORDER);
    let invitations = invitations_json::<C>(&condition, &order);
    let InvitationList(mut invitations) = values
        .bind(conn.query(&format!("SELECT {invitations} AS invitations")))
        .fetch_one()
        .await?;
    invitations.retain(|invitation| invitation.org_id == *org);
    Ok(invitations)
}

/// `(kind, invitation_id, reference, role)`: kind 0 is a team (`reference` its id), kind 1 a
/// project role (`reference` the project).
type InvitationChildRow = (i64, String, String, Option<String>);

/// Fills in teams and project roles, with one query whether one invitation is read (by its
/// id) or many (over the whole organization): a list costs two queries, not 2n + 1.
async fn load_invitation_children<C: Connection>(
    conn: &mut C,
    invitations: &mut [Invitation],
) -> Result<(), StoreError> {
    let (condition, key) = match invitations {
        [] => return Ok(()),
        [single] => ("invitation_id = $1", single.id.as_str().to_owned()),
        [first, ..] => ("org_id = $1", first.org_id.as_str().to_owned()),
    };
    let rows: Vec<InvitationChildRow> = conn
        .query(&format!(
            "SELECT CAST(0 AS BIGINT) AS kind, invitation_id, team_id AS reference, \
                 CAST(NULL AS TEXT) AS role, position FROM invitation_teams WHERE {condition} \
             UNION ALL \
             SELECT CAST(1 AS BIGINT), invitation_id, project_id, role, position \
                 FROM invitation_project_roles WHERE {condition} \
             ORDER BY 1, 2, 5"
        ))
        .bind(key)
        .fetch_all()
        .await?;
    let index: HashMap<String, usize> = invitations
        .iter()
        .enumerate()
        .map(|(position, invitation)| (invitation.id.as_str().to_owned(), position))
        .collect();
    for (kind, invitation_id, reference, role) in rows {
        let Some(&position) = index.get(&invitation_id) else {
            continue;
        };
        match role {
            Some(role) if kind == 1 => {
                invitations[position]
                    .group_role_assignments
                    .push(GroupRoleAssignment {
                        group_id: parse(&reference, "project id")?,
                        role: parse::<GroupRole>(&role, "project role")?,
                    })
            }
            _ => invitations[position]
                .team_ids
                .push(parse(&reference, "team id")?),
        }
    }
    Ok(())
}

/// Reads an invitation, pending or not; with `lock`, also locks its row until the transaction
/// ends, so concurrent updates apply one after the other and none is lost.
pub(crate) async fn fetch_invitation<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    selector: &InvitationSelector,
    lock: bool,
) -> Result<Option<Invitation>, StoreError> {
    let lock = if lock { C::LOCK_ROWS } else { "" };
    let (column, value) = match selector {
        InvitationSelector::Id(id) => ("id", id.as_str().to_owned()),
        InvitationSelector::Username(username) => ("username_key", username.key()),
        InvitationSelector::UserId(id) => ("user_id", id.as_str().to_owned()),
        InvitationSelector::Link(hash) => ("link_token_hash", hash.as_str().to_owned()),
    };
    let row: Option<InvitationRow> = conn
        .query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE org_id = $1 AND {column} = $2{lock}"
        ))
        .bind(org.as_str())
        .bind(value)
        .fetch_optional()
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut invitations = [Invitation::try_from(row)?];
    load_invitation_children(conn, &mut invitations).await?;
    let [invitation] = invitations;
    Ok(Some(invitation))
}

/// Refuses references to teams or projects that do not exist in `org`.
pub(crate) async fn check_references<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    team_ids: &[TeamId],
    group_ids: &[&GroupId],
) -> Result<(), StoreError> {
    for team in team_ids {
        let owner: Option<String> = conn
            .query("SELECT org_id FROM teams WHERE id = $1")
            .bind(team.as_str())
            .fetch_optional_scalar()
            .await?;
        match owner {
            None => return Err(Rejection::TeamNotFound(team.clone()).into()),
            Some(owner) if owner != org.as_str() => {
                return Err(Rejection::TeamNotInOrg {
                    team: team.clone(),
                    org: org.clone(),
                }
                .into());
            }
            Some(_) => {}
        }
    }
    for group in group_ids {
        let owner: Option<String> = conn
            .query("SELECT org_id FROM projects WHERE id = $1")
            .bind(group.as_str())
            .fetch_optional_scalar()
            .await?;
        if owner.as_deref() != Some(org.as_str()) {
            return Err(Rejection::GroupNotFound((*group).clone()).into());
        }
    }
    Ok(())
}

/// Rewrites the stored teams and/or project roles of an invitation from `invitation`.
pub(crate) async fn replace_invitation_children<C: Connection>(
    conn: &mut C,
    invitation: &Invitation,
    teams: bool,
    project_roles: bool,
) -> Result<(), StoreError> {
    if teams {
        conn.query("DELETE FROM invitation_teams WHERE invitation_id = $1")
            .bind(invitation.id.as_str())
            .execute()
            .await?;
        insert_invitation_teams(conn, invitation).await?;
    }
    if project_roles {
        conn.query("DELETE FROM invitation_project_roles WHERE invitation_id = $1")
            .bind(invitation.id.as_str())
            .execute()
            .await?;
        insert_invitation_project_roles(conn, invitation).await?;
    }
    Ok(())
}

async fn insert_invitation_teams<C: Connection>(
    conn: &mut C,
    invitation: &Invitation,
) -> Result<(), StoreError> {
    for (index, team) in invitation.team_ids.iter().enumerate() {
        conn.query(
            "INSERT INTO invitation_teams (invitation_id, org_id, team_id, position) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(invitation.id.as_str())
        .bind(invitation.org_id.as_str())
        .bind(team.as_str())
        .bind(position(index))
        .execute()
        .await?;
    }
    Ok(())
}

async fn insert_invitation_project_roles<C: Connection>(
    conn: &mut C,
    invitation: &Invitation,
) -> Result<(), StoreError> {
    for (index, assignment) in invitation.group_role_assignments.iter().enumerate() {
        conn.query(
            "INSERT INTO invitation_project_roles \
             (invitation_id, org_id, project_id, role, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(invitation.id.as_str())
        .bind(invitation.org_id.as_str())
        .bind(assignment.group_id.as_str())
        .bind(assignment.role.as_str())
        .bind(position(index))
        .execute()
        .await?;
    }
    Ok(())
}

/// Who an address is to `org`, in one statement (every invitation asks): `Err` with the
/// member's rejection if they belong to it already; else the id a new invitation gives its
/// pending user — the person's own if they have an account or another organization invited
/// them already, else `fresh` — and the expired or declined invitation to the same address in
/// `org` that the new one replaces, if there is one.
async fn invitee<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    username: &EmailAddress,
    fresh: &UserId,
    now: OffsetDateTime,
) -> Result<(UserId, Option<String>), StoreError> {
    type Found = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (member, account, invited, stale): Found = conn
        .query(
            "SELECT \
                 (SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id \
                  WHERE m.org_id = $1 AND u.username_key = $2), \
                 (SELECT id FROM users WHERE username_key = $2), \
                 (SELECT user_id FROM invitations WHERE username_key = $2 \
                  ORDER BY created_at LIMIT 1), \
                 (SELECT id FROM invitations WHERE org_id = $1 AND username_key = $2 \
                  AND (expires_at <= $3 OR declined_at IS NOT NULL))",
        )
        .bind(org.as_str())
        .bind(username.key())
        .bind(seconds(now))
        .fetch_one()
        .await?;
    if member.is_some() {
        return Err(Rejection::UsernameTaken(username.clone()).into());
    }
    let user_id = account
        .or(invited)
        .map_or_else(|| Ok(fresh.clone()), |id| parse(&id, "user id"))?;
    Ok((user_id, stale))
}

/// Renews the pending invitation an insert meets: same ids; roles, inviter, dates and (when
/// one is given) link from the new one.
const RENEW_PENDING: &str = "ON CONFLICT (org_id, username_key) DO UPDATE SET \
     username = excluded.username, roles = excluded.roles, \
     inviter_username = excluded.inviter_username, \
     created_at = excluded.created_at, expires_at = excluded.expires_at, \
     link_token_hash = COALESCE(excluded.link_token_hash, invitations.link_token_hash)";

/// Binds an invitation's row to `$1`–`$10`: its columns ([`INVITATION_COLUMNS`] but
/// `declined_at`) with `user_id` as its user, then `username_key` and `link_token_hash`.
fn bind_invitation_row<'q, 'c, C: Connection>(
    statement: Statement<'q, 'c, C>,
    invitation: &'q Invitation,
    user_id: &'q UserId,
    link: Option<&'q str>,
) -> Statement<'q, 'c, C> {
    statement
        .bind(invitation.id.as_str())
        .bind(user_id.as_str())
        .bind(invitation.org_id.as_str())
        .bind(invitation.username.as_str())
        .bind(encode_roles(&invitation.roles))
        .bind(invitation.inviter_username.as_str())
        .bind(seconds(invitation.created_at))
        .bind(seconds(invitation.expires_at))
        .bind(invitation.username.key())
        .bind(link)
}

/// Stores an invitation, or renews or refuses the pending one to the same address, as
/// [`crate::InvitationStore::invite`] describes, with `link` as its link when one is given (a
/// renewed invitation's old link dies); the caller's transaction commits it.
pub(crate) async fn insert_invitation<C: Connection>(
    tx: &mut C,
    invitation: &Invitation,
    when_pending: WhenPending,
    link: Option<&LinkTokenHash>,
    now: OffsetDateTime,
) -> Result<Invitation, StoreError> {
    check_references(
        tx,
        &invitation.org_id,
        &invitation.team_ids,
        &invitation.group_ids(),
    )
    .await?;
    // Looked up before an old invitation goes, so a re-invited person keeps their id.
    let (user_id, stale) = invitee(
        tx,
        &invitation.org_id,
        &invitation.username,
        &invitation.user_id,
        now,
    )
    .await?;
    // An expired or declined invitation to the same address gives way to the new one.
    if let Some(stale) = stale {
        tx.query("DELETE FROM invitations WHERE id = $1")
            .bind(stale)
            .execute()
            .await?;
    }
    // A pending one is renewed in place, keeping its ids, or refused; the unique constraint
    // makes concurrent first invitations meet here too.
    let on_conflict = match when_pending {
        WhenPending::Renew => RENEW_PENDING,
        WhenPending::Refuse => "",
    };
    let sql = format!(
        "INSERT INTO invitations ({INVITATION_COLUMNS}, username_key, link_token_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10) {on_conflict} \
         RETURNING id, user_id"
    );
    let link = link.map(LinkTokenHash::as_str);
    let (id, user_id): (String, String) =
        bind_invitation_row(tx.query(&sql), invitation, &user_id, link)
            .fetch_one()
            .await
            .map_err(|error| {
                write_error(error, &invitation.org_id, || {
                    Rejection::UsernameTaken(invitation.username.clone())
                })
            })?;
    let stored = Invitation {
        id: parse(&id, "invitation id")?,
        user_id: parse(&user_id, "user id")?,
        ..invitation.clone()
    };
    // A renewed invitation keeps its id and drops its old teams and roles; a new id has none
    // to drop.
    if stored.id == invitation.id {
        insert_invitation_teams(tx, &stored).await?;
        insert_invitation_project_roles(tx, &stored).await?;
    } else {
        replace_invitation_children(tx, &stored, true, true).await?;
    }
    Ok(stored)
}

/// The outbox's columns of a letter, after `$1`–`$22` of [`invite_at_once_sql`].
const LETTER_PARAMETERS: &str = "$23, $3, s.id, $24, $25, $26, $27, 'PENDING', 0, $11, $11, $10";

/// [`insert_invitation`] of a new invitation with its letter and its event, as one statement of
/// data-modifying `WITH` clauses, for an invitation with no teams and no project roles, on a
/// connection whose dialect has them ([`Connection::DATA_MODIFYING_WITH`]). A write of one
/// statement needs no transaction around it (`Backend::write_statement`): creates are the
/// writes clients make most, and on PostgreSQL each statement of a transaction is a round
/// trip. When an invitation to the address is pending (or becomes so meanwhile) it writes
/// nothing and answers `None`: renewing one changes its teams and project roles, which must be
/// read after its row is locked, so the caller renews in a transaction
/// ([`insert_invitation`]).
pub(crate) async fn invite_at_once<C: Connection>(
    conn: &mut C,
    invitation: &Invitation,
    letter: Option<(&InvitationLetter, Vec<u8>)>,
    event: NewEventRow,
    now: OffsetDateTime,
) -> Result<Option<Invitation>, StoreError> {
    debug_assert!(C::DATA_MODIFYING_WITH);
    debug_assert!(invitation.team_ids.is_empty() && invitation.group_role_assignments.is_empty());
    let statements = C::statement_cache();
    let sql = match letter {
        Some(_) => &statements.invite_with_letter,
        None => &statements.invite,
    }
    .get_or_init(|| invite_at_once_sql(letter.is_some()));
    let link = letter.as_ref().map(|(letter, _)| letter.link.as_str());
    let statement = bind_invitation_row(conn.query(sql), invitation, &invitation.user_id, link)
        .bind(seconds(now));
    let mut statement = event.bind(statement);
    if let Some((letter, sealed)) = letter {
        let message = &letter.message;
        statement = statement
            .bind(message.id.as_str())
            .bind(message.to.as_str())
            .bind(message.to.key())
            .bind(message.subject.as_str())
            .bind(sealed);
    }
    let (member, user_id): (Option<String>, Option<String>) =
        statement.fetch_one().await.map_err(|error| {
            write_error(error, &invitation.org_id, || {
                Rejection::UsernameTaken(invitation.username.clone())
            })
        })?;
    match (member, user_id) {
        (Some(_), _) => Err(Rejection::UsernameTaken(invitation.username.clone()).into()),
        (None, Some(user_id)) => Ok(Some(Invitation {
            user_id: parse(&user_id, "user id")?,
            ..invitation.clone()
        })),
        (None, None) => Ok(None),
    }
}

/// The statement of [`invite_at_once`]. `$1`–`$11` are [`insert_invitation`]'s invitation,
/// link and time; `$12`–`$22` the event's own, actor and feed columns ([`NewEventRow::bind`]);
/// with a letter, `$23`–`$27` its message's id, recipient, recipient key, subject and sealed
/// body. It answers the member the address already is (when nothing is written), and the user
/// id the new invitation was stored with (none when one is pending).
///
/// Every clause reads the store as it was before the statement, so each step is ordered by
/// what it reads: `gone` (the expired or declined invitation to the address, which gives way)
/// runs before `stored` inserts, because `stored` counts its rows (a row the statement itself
/// deleted is no conflict for the insert); the letter and the event insert only what `stored`
/// inserted.
fn invite_at_once_sql(with_letter: bool) -> String {
    let letter = if with_letter {
        format!(
            ", letter AS (INSERT INTO outbox (id, org_id, invitation_id, recipient, \
                 recipient_key, subject, sealed_body, status, attempts, next_attempt_at, \
                 created_at, link_token_hash) SELECT {LETTER_PARAMETERS} FROM stored s)"
        )
    } else {
        String::new()
    };
    format!(
        "WITH who AS (SELECT \
             (SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id \
              WHERE m.org_id = $3 AND u.username_key = $9) AS member, \
             COALESCE((SELECT id FROM users WHERE username_key = $9), \
                 (SELECT user_id FROM invitations WHERE username_key = $9 \
                  ORDER BY created_at LIMIT 1), $2) AS user_id, \
             (SELECT id FROM invitations WHERE org_id = $3 AND username_key = $9 \
              AND (expires_at <= $11 OR declined_at IS NOT NULL)) AS stale), \
         gone AS (DELETE FROM invitations \
             WHERE id = (SELECT stale FROM who WHERE member IS NULL) RETURNING id), \
         stored AS (INSERT INTO invitations ({INVITATION_COLUMNS}, username_key, link_token_hash) \
             SELECT $1, who.user_id, $3, $4, $5, $6, $7, $8, NULL, $9, $10 FROM who \
             WHERE who.member IS NULL AND (SELECT count(*) FROM gone) >= 0 \
             ON CONFLICT (org_id, username_key) DO NOTHING RETURNING id, user_id){letter}, \
         event AS (INSERT INTO events ({EVENT_COLUMNS}, in_org_feed) \
             SELECT $12, $3, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
                 $4, s.user_id, NULL, NULL, NULL, $22 FROM stored s) \
         SELECT who.member, s.user_id FROM who LEFT JOIN stored s ON TRUE"
    )
}

/// Applies `update` to a pending invitation read under lock.
pub(crate) async fn update_invitation_row<C: Connection>(
    conn: &mut C,
    mut invitation: Invitation,
    update: MembershipUpdate,
) -> Result<Invitation, StoreError> {
    check_references(
        conn,
        &invitation.org_id,
        update.team_ids(),
        &update.group_ids(),
    )
    .await?;
    let (teams_changed, roles_changed) = (
        update.team_ids.is_some(),
        update.group_role_assignments.is_some(),
    );
    update.apply_to_invitation(&mut invitation);
    conn.query("UPDATE invitations SET roles = $1 WHERE id = $2")
        .bind(encode_roles(&invitation.roles))
        .bind(invitation.id.as_str())
        .execute()
        .await?;
    replace_invitation_children(conn, &invitation, teams_changed, roles_changed).await?;
    Ok(invitation)
}

/// The pending invitation `selector` names, locked: [`Rejection::InvitationNotFound`] when
/// there is none (or it was declined), [`Rejection::InvitationExpired`] when it expired.
pub(crate) async fn lock_pending_invitation<C: Connection>(
    conn: &mut C,
    org: &OrgId,
    selector: &InvitationSelector,
    now: OffsetDateTime,
) -> Result<Invitation, StoreError> {
    let invitation = fetch_invitation(conn, org, selector, true)
        .await?
        .filter(|invitation| invitation.declined_at.is_none())
        .ok_or_else(|| Rejection::InvitationNotFound(selector.clone()))?;
    if invitation.is_expired(now) {
        return Err(Rejection::InvitationExpired.into());
    }
    Ok(invitation)
}

/// The pending invitation `selector` names, locked, if it offers roles in `group`:
/// [`Rejection::InvitationNotFound`] otherwise, [`Rejection::InvitationExpired`] when it has
/// expired.
pub(crate) async fn lock_pending_project_invitation<C: Connection>(
    conn: &mut C,
    group: &Group,
    selector: &InvitationSelector,
    now: OffsetDateTime,
) -> Result<Invitation, StoreError> {
    let invitation = fetch_invitation(conn, &group.org_id, selector, true)
        .await?
        .filter(|invitation| invitation.declined_at.is_none())
        .filter(|invitation| roles_in(&invitation.group_role_assignments, &group.id).is_some())
        .ok_or_else(|| Rejection::InvitationNotFound(selector.clone()))?;
    if invitation.is_expired(now) {
        return Err(Rejection::InvitationExpired.into());
    }
    Ok(invitation)
}

/// Takes a project out of an invitation read under lock; an invitation left offering bare
/// membership is cancelled, since bringing its invitee into projects was all it did.
pub(crate) async fn withdraw_from_project<C: Connection>(
    conn: &mut C,
    invitation: Invitation,
    group: &GroupId,
) -> Result<(), StoreError> {
    let assignments = with_roles_in(&invitation.group_role_assignments, group, None);
    let left = Invitation {
        group_role_assignments: assignments.clone(),
        ..invitation.clone()
    };
    if left.offers_bare_membership() {
        conn.query("DELETE FROM invitations WHERE id = $1")
            .bind(invitation.id.as_str())
            .execute()
            .await?;
    } else {
        let update = MembershipUpdate {
            group_role_assignments: Some(assignments),
            ..MembershipUpdate::default()
        };
        update_invitation_row(conn, invitation, update).await?;
    }
    Ok(())
}
