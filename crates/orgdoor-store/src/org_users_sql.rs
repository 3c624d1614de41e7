//! The SQL behind organization members and the users view of invitations, written once for both
//! dialects like the rest of [`crate::sql`]. The macro expands, inside `impl_sql_store!`, to
//! helper functions over the backend's connection type; the `Store` methods there open the
//! transaction and call these.

macro_rules! org_user_queries {
    (connection = $conn:ty, lock_rows = $lock_rows:expr $(,)?) => {
        use orgdoor_domain::{Member, MembershipStatus, OrgUser, ProfileChoices, RoleChange, User, UserId};

        use crate::{InvitationAnswer, MAX_USERS_PER_TEAM, OrgUserFilter, UserSelector, WhenPending};

        /// Which memberships to read.
        enum MemberScope<'a> {
            One(&'a OrgId, &'a UserId),
            Organization(&'a OrgId),
            Person(&'a UserId),
        }

        impl MemberScope<'_> {
            fn condition(&self) -> &'static str {
                match self {
                    MemberScope::One(..) => "m.org_id = $1 AND m.user_id = $2",
                    MemberScope::Organization(_) => "m.org_id = $1",
                    MemberScope::Person(_) => "m.user_id = $1",
                }
            }

            /// The parameters of [`Self::condition`], in order.
            fn parameters(&self) -> Vec<&str> {
                match self {
                    MemberScope::One(org, user) => vec![org.as_str(), user.as_str()],
                    MemberScope::Organization(org) => vec![org.as_str()],
                    MemberScope::Person(user) => vec![user.as_str()],
                }
            }
        }

        /// `(org_id, user_id, team_id)`.
        type MemberTeamRow = (String, String, String);
        /// `(org_id, user_id, project_id, role)`.
        type MemberRoleRow = (String, String, String, String);

        /// Members in `scope` with their teams and project roles, by address; with `lock`, their
        /// rows stay locked until the transaction ends.
        async fn fetch_members(
            conn: &mut $conn,
            scope: MemberScope<'_>,
            lock: bool,
        ) -> Result<Vec<Member>, StoreError> {
            let condition = scope.condition();
            let lock = if lock { $lock_rows } else { "" };
            let sql = format!(
                "SELECT {MEMBER_COLUMNS} FROM org_members m JOIN users u ON u.id = m.user_id \
                 WHERE {condition} ORDER BY u.username_key, m.org_id{lock}"
            );
            let mut query = sqlx::query_as(&sql);
            for parameter in scope.parameters() {
                query = query.bind(parameter);
            }
            let rows: Vec<MemberRow> = query.fetch_all(&mut *conn).await?;
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
            let mut query = sqlx::query_as(&teams_sql);
            for parameter in scope.parameters() {
                query = query.bind(parameter);
            }
            let teams: Vec<MemberTeamRow> = query.fetch_all(&mut *conn).await?;
            let roles_sql = format!(
                "SELECT m.org_id, m.user_id, m.project_id, m.role FROM member_project_roles m \
                 WHERE {condition} ORDER BY m.position"
            );
            let mut query = sqlx::query_as(&roles_sql);
            for parameter in scope.parameters() {
                query = query.bind(parameter);
            }
            let roles: Vec<MemberRoleRow> = query.fetch_all(&mut *conn).await?;
            let index: HashMap<(String, String), usize> = members
                .iter()
                .enumerate()
                .map(|(position, member)| {
                    ((member.org_id.as_str().to_owned(), member.user.id.as_str().to_owned()), position)
                })
                .collect();
            for (org_id, user_id, team_id) in teams {
                if let Some(&position) = index.get(&(org_id, user_id)) {
                    members[position].team_ids.push(parse(&team_id, "team id")?);
                }
            }
            for (org_id, user_id, project_id, role) in roles {
                if let Some(&position) = index.get(&(org_id, user_id)) {
                    members[position].group_role_assignments.push(GroupRoleAssignment {
                        group_id: parse(&project_id, "project id")?,
                        role: parse::<GroupRole>(&role, "project role")?,
                    });
                }
            }
            Ok(members)
        }

        async fn fetch_member(
            conn: &mut $conn,
            org: &OrgId,
            id: &UserId,
            lock: bool,
        ) -> Result<Option<Member>, StoreError> {
            Ok(fetch_members(conn, MemberScope::One(org, id), lock).await?.pop())
        }

        /// Rewrites the stored teams and/or project roles of a member from `member`.
        async fn replace_member_children(
            conn: &mut $conn,
            member: &Member,
            teams: bool,
            project_roles: bool,
            now: OffsetDateTime,
        ) -> Result<(), StoreError> {
            let (org, user) = (member.org_id.as_str(), member.user.id.as_str());
            if teams {
                sqlx::query("DELETE FROM team_members WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut *conn)
                    .await?;
                for team in &member.team_ids {
                    insert_team_member(conn, &member.org_id, team, &member.user.id, now).await?;
                }
            }
            if project_roles {
                sqlx::query("DELETE FROM member_project_roles WHERE org_id = $1 AND user_id = $2")
                    .bind(org)
                    .bind(user)
                    .execute(&mut *conn)
                    .await?;
                for (position, assignment) in member.group_role_assignments.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO member_project_roles (org_id, user_id, project_id, role, position) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(org)
                    .bind(user)
                    .bind(assignment.group_id.as_str())
                    .bind(assignment.role.as_str())
                    .bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .execute(&mut *conn)
                    .await?;
                }
            }
            Ok(())
        }

        /// Adds a member to a team; [`Rejection::AlreadyInTeam`] when they are in it.
        async fn insert_team_member(
            conn: &mut $conn,
            org: &OrgId,
            team: &TeamId,
            user: &UserId,
            now: OffsetDateTime,
        ) -> Result<(), StoreError> {
            sqlx::query("INSERT INTO team_members (team_id, org_id, user_id, added_at) VALUES ($1, $2, $3, $4)")
                .bind(team.as_str())
                .bind(org.as_str())
                .bind(user.as_str())
                .bind(seconds(now))
                .execute(&mut *conn)
                .await
                .map_err(|error| {
                    write_error(error, || Rejection::AlreadyInTeam {
                        user: user.clone(),
                        team: team.clone(),
                    })
                })?;
            Ok(())
        }

        /// Refuses a team that now has more members than allowed.
        async fn check_team_size(conn: &mut $conn, team: &TeamId) -> Result<(), StoreError> {
            let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_members WHERE team_id = $1")
                .bind(team.as_str())
                .fetch_one(&mut *conn)
                .await?;
            if count(members) > MAX_USERS_PER_TEAM as u64 {
                return Err(Rejection::TeamFull(team.clone()).into());
            }
            Ok(())
        }

        /// Why `who` (a user id or an address) cannot join a team: pending, or not in the org.
        async fn not_a_member(
            conn: &mut $conn,
            org: &OrgId,
            column: &str,
            value: &str,
            who: String,
            now: OffsetDateTime,
        ) -> Result<StoreError, StoreError> {
            let pending: Option<String> = sqlx::query_scalar(&format!(
                "SELECT id FROM invitations WHERE org_id = $1 AND {column} = $2 \
                 AND declined_at IS NULL AND expires_at > $3"
            ))
            .bind(org.as_str())
            .bind(value)
            .bind(seconds(now))
            .fetch_optional(&mut *conn)
            .await?;
            Ok(match pending {
                Some(_) => Rejection::PendingUser(who).into(),
                None => Rejection::UserNotInOrg { user: who, org: org.clone() }.into(),
            })
        }

        /// Locks a team of `org` (PostgreSQL; SQLite's write transaction already serializes), so
        /// member counts stay exact; [`Rejection::NotFound`] when there is none.
        async fn lock_team(conn: &mut $conn, org: &OrgId, team: &TeamId) -> Result<(), StoreError> {
            let found: Option<String> = sqlx::query_scalar(&format!(
                "SELECT id FROM teams WHERE org_id = $1 AND id = $2{}",
                $lock_rows
            ))
            .bind(org.as_str())
            .bind(team.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            found.map(|_| ()).ok_or_else(|| Rejection::NotFound.into())
        }

        /// The id of the member of `org` with this address, if there is one.
        async fn member_by_username(
            conn: &mut $conn,
            org: &OrgId,
            username: &EmailAddress,
        ) -> Result<Option<UserId>, StoreError> {
            let user: Option<String> = sqlx::query_scalar(
                "SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 AND u.username_key = $2",
            )
            .bind(org.as_str())
            .bind(username.key())
            .fetch_optional(&mut *conn)
            .await?;
            user.map(|id| parse(&id, "user id")).transpose()
        }

        /// Puts the members with these addresses into a new team.
        async fn add_team_members_by_username(
            conn: &mut $conn,
            team: &Team,
            usernames: &[EmailAddress],
            now: OffsetDateTime,
        ) -> Result<(), StoreError> {
            for username in usernames {
                let Some(user) = member_by_username(conn, &team.org_id, username).await? else {
                    return Err(not_a_member(
                        conn,
                        &team.org_id,
                        "username_key",
                        &username.key(),
                        username.to_string(),
                        now,
                    )
                    .await?);
                };
                // The same address twice in the list adds them once. (A failed insert would abort
                // a PostgreSQL transaction, so the conflict is avoided rather than caught.)
                sqlx::query(
                    "INSERT INTO team_members (team_id, org_id, user_id, added_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (team_id, user_id) DO NOTHING",
                )
                .bind(team.id.as_str())
                .bind(team.org_id.as_str())
                .bind(user.as_str())
                .bind(seconds(now))
                .execute(&mut *conn)
                .await?;
            }
            check_team_size(conn, &team.id).await
        }

        /// Every invitation of an organization, whatever its status, by address.
        async fn fetch_org_invitations(conn: &mut $conn, org: &OrgId) -> Result<Vec<Invitation>, StoreError> {
            let invitations = invitations_json("i.org_id = $1", "i.username_key");
            let row = sqlx::query(&format!("SELECT {invitations} AS invitations"))
                .bind(org.as_str())
                .fetch_one(&mut *conn)
                .await?;
            let invitations = invitations_from_json(&row, "invitations")?;
            drop(row);
            release_large_buffers(conn);
            Ok(invitations)
        }

        /// The organization's users that `filter` selects, in list order, one page of them.
        /// An organization has at most a few hundred users and invitees, so they are read whole
        /// and filtered here, where the status (which depends on `now`) is known.
        async fn org_users_page(
            conn: &mut $conn,
            org: &OrgId,
            filter: &OrgUserFilter,
            page: PageRequest,
            now: OffsetDateTime,
        ) -> Result<Page<OrgUser>, StoreError> {
            let members = fetch_members(conn, MemberScope::Organization(org), false).await?;
            let invitations = fetch_org_invitations(conn, org).await?;
            let username = filter.username.as_ref().map(EmailAddress::key);
            let mut users: Vec<(MembershipStatus, String, OrgUser)> = members
                .into_iter()
                .map(OrgUser::Member)
                .chain(invitations.into_iter().map(OrgUser::Invited))
                .filter_map(|user| {
                    let status = user.status(now);
                    let key = user.username().key();
                    let selected = filter.statuses.contains(&status)
                        && username.as_ref().is_none_or(|wanted| *wanted == key)
                        && filter.user_id.as_ref().is_none_or(|wanted| wanted == user.id())
                        && filter.team.as_ref().is_none_or(|team| user.team_ids().contains(team))
                        && filter.project.as_ref().is_none_or(|project| in_project(&user, project));
                    selected.then_some((status, key, user))
                })
                .collect();
            users.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            Ok(Page::of_all(users.into_iter().map(|(_, _, user)| user).collect(), page))
        }

        /// Whether a list of the project's users shows `user` (see [`crate::ProjectFilter`]).
        fn in_project(user: &OrgUser, project: &crate::ProjectFilter) -> bool {
            user.roles_in(&project.group).is_some()
                || user.team_ids().iter().any(|team| project.teams.contains(team))
                || user.roles().iter().any(|role| project.org_roles.contains(&role))
        }

        /// Applies `update` to a pending invitation read under lock.
        async fn update_invitation_row(
            conn: &mut $conn,
            mut invitation: Invitation,
            update: MembershipUpdate,
        ) -> Result<Invitation, StoreError> {
            check_references(conn, &invitation.org_id, update.team_ids(), &update.group_ids()).await?;
            let (teams_changed, roles_changed) = (
                update.team_ids.is_some(),
                update.group_role_assignments.is_some(),
            );
            update.apply_to_invitation(&mut invitation);
            sqlx::query("UPDATE invitations SET roles = $1 WHERE id = $2")
                .bind(encode_org_roles(&invitation.roles))
                .bind(invitation.id.as_str())
                .execute(&mut *conn)
                .await?;
            replace_invitation_children(conn, &invitation, teams_changed, roles_changed).await?;
            Ok(invitation)
        }

        /// Applies `update` to a member read under lock.
        async fn update_member_row(
            conn: &mut $conn,
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
            sqlx::query("UPDATE org_members SET roles = $1 WHERE org_id = $2 AND user_id = $3")
                .bind(encode_org_roles(&member.roles))
                .bind(member.org_id.as_str())
                .bind(member.user.id.as_str())
                .execute(&mut *conn)
                .await?;
            replace_member_children(conn, &member, teams_changed, roles_changed, now).await?;
            if teams_changed {
                for team in &member.team_ids {
                    check_team_size(conn, team).await?;
                }
            }
            Ok(member)
        }

        /// The pending invitation `selector` names, locked: [`Rejection::InvitationNotFound`] when
        /// there is none (or it was declined), [`Rejection::InvitationExpired`] when it expired.
        async fn lock_pending_invitation(
            conn: &mut $conn,
            org: &OrgId,
            selector: &InvitationSelector,
            now: OffsetDateTime,
        ) -> Result<Invitation, StoreError> {
            let invitation = fetch_invitation(conn, org, selector, true)
                .await?
                .filter(|invitation| invitation.declined_at.is_none())
                .ok_or(Rejection::InvitationNotFound)?;
            if invitation.is_expired(now) {
                return Err(Rejection::InvitationExpired.into());
            }
            Ok(invitation)
        }

        /// Applies `update` to a member or pending invitee read under lock.
        async fn update_org_user_row(
            conn: &mut $conn,
            user: OrgUser,
            update: MembershipUpdate,
            now: OffsetDateTime,
        ) -> Result<OrgUser, StoreError> {
            Ok(match user {
                OrgUser::Member(member) => OrgUser::Member(update_member_row(conn, member, update, now).await?),
                OrgUser::Invited(invitation) => {
                    OrgUser::Invited(update_invitation_row(conn, invitation, update).await?)
                }
            })
        }

        /// The member or pending invitee `id`, locked, or [`Rejection::UserNotInOrg`].
        async fn lock_current_org_user(
            conn: &mut $conn,
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
                .ok_or_else(|| Rejection::UserNotInOrg { user: id.to_string(), org: org.clone() }.into())
        }

        /// The account with this address, if the person has one.
        async fn fetch_user(conn: &mut $conn, selector: &UserSelector) -> Result<Option<User>, StoreError> {
            let (column, value) = match selector {
                UserSelector::Id(id) => ("id", id.as_str().to_owned()),
                UserSelector::Username(username) => ("username_key", username.key()),
            };
            let row: Option<UserRow> =
                sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"))
                    .bind(value)
                    .fetch_optional(&mut *conn)
                    .await?;
            row.map(User::try_from).transpose()
        }

        /// Who an address is to `org`, in one statement (every invitation asks): `Err` with the
        /// member's rejection if they belong to it already; else the id a new invitation gives
        /// its pending user — the person's own if they have an account or another organization
        /// invited them already, else `fresh` — and the expired or declined invitation to the
        /// same address in `org` that the new one replaces, if there is one.
        async fn invitee(
            conn: &mut $conn,
            org: &OrgId,
            username: &EmailAddress,
            fresh: &UserId,
            now: OffsetDateTime,
        ) -> Result<(UserId, Option<String>), StoreError> {
            let (member, account, invited, stale): (Option<String>, Option<String>, Option<String>, Option<String>) =
                sqlx::query_as(
                    "SELECT \
                         (SELECT m.user_id FROM org_members m JOIN users u ON u.id = m.user_id \
                          WHERE m.org_id = $1 AND u.username_key = $2), \
                         (SELECT id FROM users WHERE username_key = $2), \
                         (SELECT user_id FROM invitations WHERE username_key = $2 ORDER BY created_at LIMIT 1), \
                         (SELECT id FROM invitations WHERE org_id = $1 AND username_key = $2 \
                          AND (expires_at <= $3 OR declined_at IS NOT NULL))",
                )
                .bind(org.as_str())
                .bind(username.key())
                .bind(seconds(now))
                .fetch_one(&mut *conn)
                .await?;
            if member.is_some() {
                return Err(Rejection::UsernameTaken(username.clone()).into());
            }
            let user_id = account.or(invited).map_or_else(|| Ok(fresh.clone()), |id| parse(&id, "user id"))?;
            Ok((user_id, stale))
        }

        /// Makes the invitee a member: account (if new), membership, teams, project roles; the
        /// invitation ends, and the person's other invitations take their account's id.
        async fn accept_invitation(
            conn: &mut $conn,
            invitation: Invitation,
            profile: ProfileChoices,
            now: OffsetDateTime,
        ) -> Result<Member, StoreError> {
            let now = orgdoor_domain::truncate_to_seconds(now);
            let user = match fetch_user(conn, &UserSelector::Username(invitation.username.clone())).await? {
                Some(user) => user,
                None => {
                    let user = User {
                        id: invitation.user_id.clone(),
                        username: invitation.username.clone(),
                        profile: profile.for_user(&invitation.username),
                        created_at: now,
                    };
                    sqlx::query(&format!(
                        "INSERT INTO users ({USER_COLUMNS}, username_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ))
                    .bind(user.id.as_str())
                    .bind(user.username.as_str())
                    .bind(&user.profile.first_name)
                    .bind(&user.profile.last_name)
                    .bind(&user.profile.country)
                    .bind(&user.profile.mobile_number)
                    .bind(seconds(user.created_at))
                    .bind(user.username.key())
                    .execute(&mut *conn)
                    .await?;
                    user
                }
            };
            sqlx::query("INSERT INTO org_members (org_id, user_id, roles, joined_at) VALUES ($1, $2, $3, $4)")
                .bind(invitation.org_id.as_str())
                .bind(user.id.as_str())
                .bind(encode_org_roles(&invitation.roles))
                .bind(seconds(now))
                .execute(&mut *conn)
                .await
                .map_err(|error| write_error(error, || Rejection::UsernameTaken(invitation.username.clone())))?;
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
            sqlx::query("DELETE FROM invitations WHERE id = $1")
                .bind(invitation.id.as_str())
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE invitations SET user_id = $1 WHERE username_key = $2 AND user_id <> $1")
                .bind(member.user.id.as_str())
                .bind(invitation.username.key())
                .execute(&mut *conn)
                .await?;
            Ok(member)
        }
    };
}

pub(crate) use org_user_queries;
