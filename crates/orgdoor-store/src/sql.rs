//! The SQL behind [`Store`], written once for both dialects.
//!
//! SQLite and PostgreSQL read the same statements (`$1`-style parameters, `ON CONFLICT`,
//! `RETURNING`); what differs — connection set-up, how a write transaction begins, and the row
//! lock `FOR UPDATE` that PostgreSQL needs for read-modify-write (SQLite's `BEGIN IMMEDIATE`
//! already serializes writers) — stays in each backend's module. The macro gives each backend a
//! concrete implementation over its own connection type, without sqlx's generic executor bounds.
//!
//! A backend provides `reader` and `writer` pools and `begin_write()`.

macro_rules! impl_sql_store {
    (
        store = $store:ty,
        connection = $conn:ty,
        row = $row:ty,
        lock_rows = $lock_rows:expr,
        lock_organizations = $lock_organizations:expr,
        json_array = $json_array:expr,
        json_agg = $json_agg:expr,
        json_nested = $json_nested:expr $(,)?
    ) => {
        use std::collections::HashMap;

        use async_trait::async_trait;
        use orgdoor_domain::{
            AccessListEntry, AccessToken, AllowedNetwork, ApiKeyId, ClientId, GroupRoles, NewInvitation,
            OrgRoles, ProjectInvitation, ProjectRoleChange, SecretId, ServiceAccount,
            ServiceAccountSecret, BucketState, TakeOutcome, TokenBucket, roles_in, with_roles_in,
            ApiKey, DigestHa1, EmailAddress, Group, GroupId, GroupRole, GroupRoleAssignment, GroupTag,
            GroupUpdate, Invitation, InvitationId, MembershipUpdate, OrgId, OrgName, Organization, Page,
            PageRequest, ProjectGrant, PublicKey, Team, TeamId, TeamName,
        };
        use sqlx::FromRow;
        use time::OffsetDateTime;

        use crate::error::is_foreign_key_violation;
        use crate::sealing::{Sealer, ha1_context, is_sealed, server_secret_context};
        use crate::rows::*;

        crate::org_users_sql::org_user_queries!(connection = $conn, lock_rows = $lock_rows);
        use crate::{
            ApiKeyCredential, BearerCredential, Credential, InvitationSelector, ProjectAddition,
            ProjectTeam, Rejection, ServiceAccountCredential, Store, StoreError,
        };

        /// One page of an organization's rows of `table`, oldest first, and the number of all of them.
        async fn org_page<R>(
            conn: &mut $conn,
            table: &str,
            columns: &str,
            key_column: &str,
            org: &OrgId,
            page: PageRequest,
        ) -> Result<(Vec<R>, u64), StoreError>
        where
            R: for<'r> FromRow<'r, $row> + Send + Unpin,
        {
            let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1"))
                .bind(org.as_str())
                .fetch_one(&mut *conn)
                .await?;
            let (limit, offset) = limit_offset(page);
            let rows: Vec<R> = sqlx::query_as(&format!(
                "SELECT {columns} FROM {table} WHERE org_id = $1 ORDER BY created_at, {key_column} LIMIT $2 OFFSET $3"
            ))
            .bind(org.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *conn)
            .await?;
            Ok((rows, count(total)))
        }

        /// A scalar subquery: the invitations (`invitations i`) that `condition` selects, in
        /// `order`, with their teams and project roles, as one JSON array of
        /// `InvitationJsonRow`s. sqlx's SQLite driver hands each row of a result from its worker
        /// thread on its own — a pair of context switches per row when the server's core is
        /// otherwise idle, some 20,000 for a list of 10,000 — and every statement costs another
        /// hand-off, so a list is one value of one statement.
        fn invitations_json(condition: &str, order: &str) -> String {
            let (array, agg, nested) = ($json_array, $json_agg, $json_nested);
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

        /// A connection keeps buffers as large as the largest result it has read (PostgreSQL's
        /// protocol buffer grows to hold a whole aggregated list); give them back after one.
        fn release_large_buffers(conn: &mut $conn) {
            sqlx::Connection::shrink_buffers(conn);
        }

        /// The invitations of an `invitations_json` column, converted as they are parsed (no
        /// second list of raw rows), from the text borrowed straight from the row.
        fn invitations_from_json(row: &$row, column: &str) -> Result<Vec<Invitation>, StoreError> {
            let json: Option<&str> = sqlx::Row::try_get(row, column)?;
            let Some(json) = json else { return Ok(Vec::new()) };
            let InvitationRows(invitations) = serde_json::from_str(json)
                .map_err(|error| StoreError::Corrupt(format!("invitation rows: {error}")))?;
            Ok(invitations)
        }

        async fn insert_organization(
            conn: &mut $conn,
            sealer: &Sealer,
            organization: &Organization,
            api_keys: &[(ApiKey, DigestHa1)],
        ) -> Result<(), StoreError> {
            sqlx::query(&format!(
                "INSERT INTO organizations ({ORGANIZATION_COLUMNS}) VALUES ($1, $2, $3, $4)"
            ))
            .bind(organization.id.as_str())
            .bind(organization.name.as_str())
            .bind(organization.skip_default_alerts_settings)
            .bind(seconds(organization.created_at))
            .execute(&mut *conn)
            .await?;
            for (key, ha1) in api_keys {
                insert_api_key(conn, sealer, key, ha1).await?;
            }
            Ok(())
        }

        async fn fetch_api_key(
            conn: &mut $conn,
            org: &OrgId,
            id: &ApiKeyId,
        ) -> Result<Option<ApiKey>, StoreError> {
            let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE org_id = $1 AND id = $2"
            ))
            .bind(org.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let (key, _) = <(ApiKey, Vec<u8>)>::try_from(row)?;
            let mut keys = [key];
            load_key_grants(conn, &mut keys).await?;
            let [key] = keys;
            Ok(Some(key))
        }

        /// `Ok` when a write touched a row, else the given rejection (nothing matched).
        fn one_row_or(rows: u64, missing: Rejection) -> Result<(), StoreError> {
            if rows == 0 { Err(missing.into()) } else { Ok(()) }
        }

        /// Whether the credential exists in `org`.
        async fn credential_in_org(
            conn: &mut $conn,
            org: &OrgId,
            credential: &Credential,
        ) -> Result<bool, StoreError> {
            let (_, _, owners, owner_column, id) = access_list_tables(credential);
            let found: Option<String> = sqlx::query_scalar(&format!(
                "SELECT {owner_column} FROM {owners} WHERE {owner_column} = $1 AND org_id = $2"
            ))
            .bind(&id)
            .bind(org.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            Ok(found.is_some())
        }

        async fn load_access_list(
            conn: &mut $conn,
            credential: &Credential,
        ) -> Result<Vec<AllowedNetwork>, StoreError> {
            let (table, column, _, _, id) = access_list_tables(credential);
            let networks: Vec<String> = sqlx::query_scalar(&format!("SELECT cidr FROM {table} WHERE {column} = $1"))
                .bind(&id)
                .fetch_all(&mut *conn)
                .await?;
            networks.iter().map(|cidr| parse(cidr, "access list entry")).collect()
        }

        /// A credential read together with its access list (every authenticated request does
        /// this, so it is one statement): each row is the credential joined with one entry, or
        /// with none (`access_cidr` NULL) when the list is empty.
        fn with_access_list<R>(rows: &[$row]) -> Result<Option<(R, Vec<AllowedNetwork>)>, StoreError>
        where
            R: for<'r> FromRow<'r, $row>,
        {
            let Some(first) = rows.first() else { return Ok(None) };
            let credential = R::from_row(first)?;
            let mut access_list = Vec::new();
            for row in rows {
                if let Some(cidr) = sqlx::Row::try_get::<Option<String>, _>(row, "access_cidr")? {
                    access_list.push(parse(&cidr, "access list entry")?);
                }
            }
            Ok(Some((credential, access_list)))
        }

        async fn insert_secret(
            conn: &mut $conn,
            client_id: &ClientId,
            secret: &ServiceAccountSecret,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO service_account_secrets (id, client_id, digest, masked, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(secret.id.as_str())
            .bind(client_id.as_str())
            .bind(&secret.digest[..])
            .bind(&secret.masked)
            .bind(seconds(secret.created_at))
            .bind(seconds(secret.expires_at))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn load_secrets(conn: &mut $conn, client_id: &ClientId) -> Result<Vec<ServiceAccountSecret>, StoreError> {
            let rows: Vec<SecretRow> = sqlx::query_as(
                "SELECT id, digest, masked, created_at, expires_at FROM service_account_secrets \
                 WHERE client_id = $1 ORDER BY created_at, id",
            )
            .bind(client_id.as_str())
            .fetch_all(&mut *conn)
            .await?;
            rows.into_iter().map(ServiceAccountSecret::try_from).collect()
        }

        /// Reads a service account with its secrets, in `org` when one is given; with `lock`,
        /// locks its row until the transaction ends.
        async fn fetch_service_account(
            conn: &mut $conn,
            org: Option<&OrgId>,
            client_id: &ClientId,
            lock: bool,
        ) -> Result<Option<ServiceAccount>, StoreError> {
            let lock = if lock { $lock_rows } else { "" };
            let row: Option<ServiceAccountRow> = match org {
                Some(org) => sqlx::query_as(&format!(
                    "SELECT {SERVICE_ACCOUNT_COLUMNS} FROM service_accounts WHERE client_id = $1 AND org_id = $2{lock}"
                ))
                .bind(client_id.as_str())
                .bind(org.as_str())
                .fetch_optional(&mut *conn)
                .await?,
                None => sqlx::query_as(&format!(
                    "SELECT {SERVICE_ACCOUNT_COLUMNS} FROM service_accounts WHERE client_id = $1{lock}"
                ))
                .bind(client_id.as_str())
                .fetch_optional(&mut *conn)
                .await?,
            };
            let Some(row) = row else { return Ok(None) };
            let mut account = ServiceAccount::try_from(row)?;
            account.secrets = load_secrets(conn, client_id).await?;
            Ok(Some(account))
        }

        async fn insert_api_key(
            conn: &mut $conn,
            sealer: &Sealer,
            key: &ApiKey,
            ha1: &DigestHa1,
        ) -> Result<(), StoreError> {
            let sealed = sealer.seal(&ha1.0, &ha1_context(key.public_key.as_str()))?;
            sqlx::query(
                "INSERT INTO api_keys (id, org_id, public_key, digest_ha1, description, roles, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(key.id.as_str())
            .bind(key.org_id.as_str())
            .bind(key.public_key.as_str())
            .bind(sealed)
            .bind(&key.description)
            .bind(encode_org_roles(&key.roles))
            .bind(seconds(key.created_at))
            .execute(&mut *conn)
            .await
            .map_err(|error| {
                if is_foreign_key_violation(&error) {
                    Rejection::OrganizationNotFound.into()
                } else {
                    StoreError::from(error)
                }
            })?;
            for grant in &key.project_roles {
                upsert_key_grant(&mut *conn, key, grant, key.created_at).await?;
            }
            Ok(())
        }

        /// Gives a key its roles in a project, replacing any it had there; a project of
        /// another organization (or none) is [`Rejection::NotFound`].
        async fn upsert_key_grant(
            conn: &mut $conn,
            key: &ApiKey,
            grant: &ProjectGrant,
            now: OffsetDateTime,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO api_key_project_roles (project_id, org_id, api_key_id, roles, assigned_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (project_id, api_key_id) DO UPDATE SET roles = excluded.roles",
            )
            .bind(grant.group_id.as_str())
            .bind(key.org_id.as_str())
            .bind(key.id.as_str())
            .bind(encode_group_roles(&grant.roles))
            .bind(seconds(now))
            .execute(conn)
            .await
            .map_err(|error| {
                if is_foreign_key_violation(&error) {
                    Rejection::NotFound.into()
                } else {
                    StoreError::from(error)
                }
            })?;
            Ok(())
        }

        /// Fills in the project roles of keys of one organization, in the order granted.
        async fn load_key_grants(conn: &mut $conn, keys: &mut [ApiKey]) -> Result<(), StoreError> {
            let Some(first) = keys.first() else {
                return Ok(());
            };
            let (sql, bound) = if keys.len() == 1 {
                (
                    "SELECT api_key_id, project_id, roles FROM api_key_project_roles \
                     WHERE api_key_id = $1 ORDER BY assigned_at, project_id",
                    first.id.as_str().to_owned(),
                )
            } else {
                (
                    "SELECT api_key_id, project_id, roles FROM api_key_project_roles \
                     WHERE org_id = $1 ORDER BY assigned_at, project_id",
                    first.org_id.as_str().to_owned(),
                )
            };
            let rows: Vec<(String, String, String)> =
                sqlx::query_as(sql).bind(bound).fetch_all(&mut *conn).await?;
            for (key_id, project_id, roles) in rows {
                if let Some(key) = keys.iter_mut().find(|key| key.id.as_str() == key_id) {
                    key.project_roles.push(ProjectGrant {
                        group_id: parse(&project_id, "project id")?,
                        roles: decode_group_roles(&roles)?,
                    });
                }
            }
            Ok(())
        }

        async fn load_group_tags(
            conn: &mut $conn,
            groups: &mut [Group],
        ) -> Result<(), StoreError> {
            for group in groups {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT tag_key, tag_value FROM project_tags WHERE project_id = $1 ORDER BY position",
                )
                .bind(group.id.as_str())
                .fetch_all(&mut *conn)
                .await?;
                group.tags = rows
                    .into_iter()
                    .map(|(key, value)| GroupTag::new(key, value).map_err(corrupt))
                    .collect::<Result<_, _>>()?;
            }
            Ok(())
        }

        async fn replace_group_tags(
            conn: &mut $conn,
            id: &GroupId,
            tags: &[GroupTag],
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM project_tags WHERE project_id = $1")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            for (position, tag) in tags.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO project_tags (project_id, position, tag_key, tag_value) VALUES ($1, $2, $3, $4)",
                )
                .bind(id.as_str())
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(tag.key())
                .bind(tag.value())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Reads a project; with `lock`, also locks its row until the transaction ends.
        async fn fetch_group(
            conn: &mut $conn,
            id: &GroupId,
            lock: bool,
        ) -> Result<Option<Group>, StoreError> {
            let lock = if lock { $lock_rows } else { "" };
            let row: Option<GroupRow> = sqlx::query_as(&format!(
                "SELECT {GROUP_COLUMNS} FROM projects WHERE id = $1{lock}"
            ))
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let mut groups = [Group::try_from(row)?];
            load_group_tags(conn, &mut groups).await?;
            let [group] = groups;
            Ok(Some(group))
        }

        /// Refuses references to teams or projects that do not exist in `org`.
        async fn check_references(
            conn: &mut $conn,
            org: &OrgId,
            team_ids: &[TeamId],
            group_ids: &[&GroupId],
        ) -> Result<(), StoreError> {
            for team in team_ids {
                let owner: Option<String> = sqlx::query_scalar("SELECT org_id FROM teams WHERE id = $1")
                    .bind(team.as_str())
                    .fetch_optional(&mut *conn)
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
                let owner: Option<String> = sqlx::query_scalar("SELECT org_id FROM projects WHERE id = $1")
                    .bind(group.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                if owner.as_deref() != Some(org.as_str()) {
                    return Err(Rejection::GroupNotFound((*group).clone()).into());
                }
            }
            Ok(())
        }

        /// Rewrites the stored teams and/or project roles of an invitation from `invitation`.
        async fn replace_invitation_children(
            conn: &mut $conn,
            invitation: &Invitation,
            teams: bool,
            project_roles: bool,
        ) -> Result<(), StoreError> {
            if teams {
                sqlx::query("DELETE FROM invitation_teams WHERE invitation_id = $1")
                    .bind(invitation.id.as_str())
                    .execute(&mut *conn)
                    .await?;
                insert_invitation_teams(conn, invitation).await?;
            }
            if project_roles {
                sqlx::query("DELETE FROM invitation_project_roles WHERE invitation_id = $1")
                    .bind(invitation.id.as_str())
                    .execute(&mut *conn)
                    .await?;
                insert_invitation_project_roles(conn, invitation).await?;
            }
            Ok(())
        }

        async fn insert_invitation_teams(
            conn: &mut $conn,
            invitation: &Invitation,
        ) -> Result<(), StoreError> {
            for (position, team) in invitation.team_ids.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO invitation_teams (invitation_id, org_id, team_id, position) VALUES ($1, $2, $3, $4)",
                )
                .bind(invitation.id.as_str())
                .bind(invitation.org_id.as_str())
                .bind(team.as_str())
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn insert_invitation_project_roles(
            conn: &mut $conn,
            invitation: &Invitation,
        ) -> Result<(), StoreError> {
            for (position, assignment) in invitation.group_role_assignments.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO invitation_project_roles (invitation_id, org_id, project_id, role, position) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(invitation.id.as_str())
                .bind(invitation.org_id.as_str())
                .bind(assignment.group_id.as_str())
                .bind(assignment.role.as_str())
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// `(kind, invitation_id, reference, role)`: kind 0 is a team (`reference` its id), kind 1
        /// a project role (`reference` the project).
        type InvitationChildRow = (i64, String, String, Option<String>);

        /// Fills in teams and project roles, with one query whether one invitation is read (by
        /// its id) or many (over the whole organization): a list costs two queries, not 2n + 1.
        async fn load_invitation_children(
            conn: &mut $conn,
            invitations: &mut [Invitation],
        ) -> Result<(), StoreError> {
            let (condition, key) = match invitations {
                [] => return Ok(()),
                [single] => ("invitation_id = $1", single.id.as_str().to_owned()),
                [first, ..] => ("org_id = $1", first.org_id.as_str().to_owned()),
            };
            let rows: Vec<InvitationChildRow> = sqlx::query_as(&format!(
                "SELECT CAST(0 AS BIGINT) AS kind, invitation_id, team_id AS reference, \
                     CAST(NULL AS TEXT) AS role, position FROM invitation_teams WHERE {condition} \
                 UNION ALL \
                 SELECT CAST(1 AS BIGINT), invitation_id, project_id, role, position \
                     FROM invitation_project_roles WHERE {condition} \
                 ORDER BY 1, 2, 5"
            ))
            .bind(key)
            .fetch_all(&mut *conn)
            .await?;
            let index: HashMap<String, usize> = invitations
                .iter()
                .enumerate()
                .map(|(position, invitation)| (invitation.id.as_str().to_owned(), position))
                .collect();
            for (kind, invitation_id, reference, role) in rows {
                let Some(&position) = index.get(&invitation_id) else { continue };
                match role {
                    Some(role) if kind == 1 => invitations[position]
                        .group_role_assignments
                        .push(GroupRoleAssignment {
                            group_id: parse(&reference, "project id")?,
                            role: parse::<GroupRole>(&role, "project role")?,
                        }),
                    _ => invitations[position]
                        .team_ids
                        .push(parse(&reference, "team id")?),
                }
            }
            Ok(())
        }

        /// Reads an invitation, pending or not; with `lock`, also locks its row until the transaction
        /// ends, so concurrent updates apply one after the other and none is lost.
        async fn fetch_invitation(
            conn: &mut $conn,
            org: &OrgId,
            selector: &InvitationSelector,
            lock: bool,
        ) -> Result<Option<Invitation>, StoreError> {
            let lock = if lock { $lock_rows } else { "" };
            let (column, value) = match selector {
                InvitationSelector::Id(id) => ("id", id.as_str().to_owned()),
                InvitationSelector::Username(username) => ("username_key", username.key()),
                InvitationSelector::UserId(id) => ("user_id", id.as_str().to_owned()),
            };
            let sql =
                format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE org_id = $1 AND {column} = $2{lock}");
            let query = sqlx::query_as(&sql).bind(org.as_str()).bind(value);
            let row: Option<InvitationRow> = query.fetch_optional(&mut *conn).await?;
            let Some(row) = row else { return Ok(None) };
            let mut invitations = [Invitation::try_from(row)?];
            load_invitation_children(conn, &mut invitations).await?;
            let [invitation] = invitations;
            Ok(Some(invitation))
        }

        /// Stores an invitation, or renews or refuses the pending one to the same address, as
        /// [`Store::invite`] describes; the caller's transaction commits it.
        async fn insert_invitation(
            tx: &mut $conn,
            invitation: &Invitation,
            when_pending: WhenPending,
            now: OffsetDateTime,
        ) -> Result<Invitation, StoreError> {
            check_references(
                &mut *tx,
                &invitation.org_id,
                &invitation.team_ids,
                &invitation.group_ids(),
            )
            .await?;
            // Looked up before an old invitation goes, so a re-invited person keeps their id.
            let (user_id, stale) =
                invitee(&mut *tx, &invitation.org_id, &invitation.username, &invitation.user_id, now).await?;
            // An expired or declined invitation to the same address gives way to the new one.
            if let Some(stale) = stale {
                sqlx::query("DELETE FROM invitations WHERE id = $1")
                    .bind(stale)
                    .execute(&mut *tx)
                    .await?;
            }
            // A pending one is renewed in place, keeping its ids, or refused; the unique
            // constraint makes concurrent first invitations meet here too.
            let on_conflict = match when_pending {
                WhenPending::Renew => {
                    "ON CONFLICT (org_id, username_key) DO UPDATE SET \
                         username = excluded.username, roles = excluded.roles, \
                         inviter_username = excluded.inviter_username, \
                         created_at = excluded.created_at, expires_at = excluded.expires_at"
                }
                WhenPending::Refuse => "",
            };
            let (id, user_id): (String, String) = sqlx::query_as(&format!(
                "INSERT INTO invitations ({INVITATION_COLUMNS}, username_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) {on_conflict} \
                 RETURNING id, user_id"
            ))
            .bind(invitation.id.as_str())
            .bind(user_id.as_str())
            .bind(invitation.org_id.as_str())
            .bind(invitation.username.as_str())
            .bind(encode_org_roles(&invitation.roles))
            .bind(&invitation.inviter_username)
            .bind(seconds(invitation.created_at))
            .bind(seconds(invitation.expires_at))
            .bind(invitation.username.key())
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| write_error(error, || Rejection::UsernameTaken(invitation.username.clone())))?;
            let stored = Invitation {
                id: parse(&id, "invitation id")?,
                user_id: parse(&user_id, "user id")?,
                ..invitation.clone()
            };
            // A renewed invitation keeps its id and drops its old teams and roles; a new id
            // has none to drop.
            if stored.id == invitation.id {
                insert_invitation_teams(&mut *tx, &stored).await?;
                insert_invitation_project_roles(&mut *tx, &stored).await?;
            } else {
                replace_invitation_children(&mut *tx, &stored, true, true).await?;
            }
            Ok(stored)
        }

        /// The project, or [`Rejection::GroupNotFound`].
        async fn existing_group(conn: &mut $conn, id: &GroupId, lock: bool) -> Result<Group, StoreError> {
            fetch_group(conn, id, lock)
                .await?
                .ok_or_else(|| Rejection::GroupNotFound(id.clone()).into())
        }

        /// Takes a project out of an invitation read under lock; an invitation left offering
        /// bare membership is cancelled, since bringing its invitee into projects was all it did.
        async fn withdraw_from_project(
            conn: &mut $conn,
            invitation: Invitation,
            group: &GroupId,
        ) -> Result<(), StoreError> {
            let assignments = with_roles_in(&invitation.group_role_assignments, group, None);
            let left = Invitation { group_role_assignments: assignments.clone(), ..invitation.clone() };
            if left.offers_bare_membership() {
                sqlx::query("DELETE FROM invitations WHERE id = $1")
                    .bind(invitation.id.as_str())
                    .execute(&mut *conn)
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

        /// The pending invitation `selector` names, locked, if it offers roles in `group`:
        /// [`Rejection::InvitationNotFound`] otherwise, [`Rejection::InvitationExpired`] when it
        /// has expired.
        async fn lock_pending_project_invitation(
            conn: &mut $conn,
            group: &Group,
            selector: &InvitationSelector,
            now: OffsetDateTime,
        ) -> Result<Invitation, StoreError> {
            let invitation = fetch_invitation(conn, &group.org_id, selector, true)
                .await?
                .filter(|invitation| invitation.declined_at.is_none())
                .filter(|invitation| roles_in(&invitation.group_role_assignments, &group.id).is_some())
                .ok_or(Rejection::InvitationNotFound)?;
            if invitation.is_expired(now) {
                return Err(Rejection::InvitationExpired.into());
            }
            Ok(invitation)
        }

        impl $store {
            /// Moves what an older version stored as separate project invitations into the one
            /// record they are now, an organization invitation offering roles in the project (see
            /// [`ProjectInvitation`]), then forgets them. A pending one is added as a project
            /// invitation is today, keeping its id, dates and inviter when it becomes a new
            /// invitation; an expired one, or one to someone who has since joined the
            /// organization, is dropped: neither could be accepted.
            pub(crate) async fn fold_project_invitations(&self, now: OffsetDateTime) -> Result<(), StoreError> {
                let rows: Vec<ProjectInvitationRow> = sqlx::query_as(&format!(
                    "SELECT {PROJECT_INVITATION_COLUMNS} FROM project_invitations ORDER BY created_at, id"
                ))
                .fetch_all(&mut *self.reader.acquire().await?)
                .await?;
                for row in rows {
                    let id = row.id.clone();
                    let old = ProjectInvitation::try_from(row)?;
                    if !old.is_expired(now) {
                        if let Some(project) = self.get_group(&old.group_id).await? {
                            let mut newcomer = NewInvitation::into_project(
                                project.org_id,
                                &old.group_id,
                                old.username.clone(),
                                &old.roles,
                                old.inviter_username.clone(),
                            )
                            .into_invitation(old.created_at);
                            newcomer.id = old.id.clone();
                            newcomer.expires_at = old.expires_at;
                            match self
                                .add_project_user(&old.group_id, &old.roles, &newcomer, ProjectAddition::Invitation, now)
                                .await
                            {
                                Ok(_)
                                | Err(StoreError::Rejected(Rejection::UsernameTaken(_) | Rejection::GroupNotFound(_))) => {}
                                Err(other) => return Err(other),
                            }
                        }
                    }
                    sqlx::query("DELETE FROM project_invitations WHERE id = $1")
                        .bind(id)
                        .execute(&mut *self.writer.acquire().await?)
                        .await?;
                }
                Ok(())
            }

            /// Seals what an older version stored in the clear (HA1 values, server secrets), and
            /// checks that the configured key opens the secrets already sealed.
            pub(crate) async fn seal_plaintext_secrets(&self) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let plaintext: Vec<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT public_key, digest_ha1 FROM api_keys WHERE length(digest_ha1) = 16",
                )
                .fetch_all(&mut *tx)
                .await?;
                for (public_key, ha1) in &plaintext {
                    sqlx::query("UPDATE api_keys SET digest_ha1 = $1 WHERE public_key = $2")
                        .bind(self.sealer.seal(ha1, &ha1_context(public_key))?)
                        .bind(public_key)
                        .execute(&mut *tx)
                        .await?;
                }
                // One sealed credential is enough to tell whether the key is this store's.
                let sealed: Option<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT public_key, digest_ha1 FROM api_keys WHERE length(digest_ha1) > 16 LIMIT 1",
                )
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((public_key, ha1)) = &sealed {
                    self.sealer.open(ha1, &ha1_context(public_key))?;
                }
                let secrets: Vec<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT name, value FROM server_secrets")
                        .fetch_all(&mut *tx)
                        .await?;
                for (name, value) in &secrets {
                    let context = server_secret_context(name);
                    if is_sealed(value) {
                        self.sealer.open(value, &context)?;
                    } else {
                        sqlx::query("UPDATE server_secrets SET value = $1 WHERE name = $2")
                            .bind(self.sealer.seal(value, &context)?)
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                if !plaintext.is_empty() {
                    tracing::info!(keys = plaintext.len(), "sealed API key credentials stored in the clear");
                }
                Ok(())
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&mut *self.reader.acquire().await?).await?;
                // A store that answers reads but cannot start a write (a wedged writer, a
                // write lock held elsewhere) is not healthy: take the write lock, let it go.
                let mut tx = self.begin_write().await?;
                sqlx::query("SELECT 1").execute(&mut *tx).await?;
                drop(tx);
                Ok(())
            }

            async fn shared_secret(
                &self,
                name: &str,
                generate: &(dyn Fn() -> Vec<u8> + Send + Sync),
            ) -> Result<Vec<u8>, StoreError> {
                let context = server_secret_context(name);
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(self.sealer.seal(&generate(), &context)?)
                .execute(&mut *tx)
                .await?;
                let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                self.sealer.open(&value, &context)
            }

            async fn create_first_organization(
                &self,
                organization: &Organization,
                api_keys: &[(ApiKey, DigestHa1)],
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let lock = $lock_organizations;
                if !lock.is_empty() {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations)")
                    .fetch_one(&mut *tx)
                    .await?;
                if any {
                    return Ok(false);
                }
                insert_organization(&mut tx, &self.sealer, organization, api_keys).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn create_organization(
                &self,
                organization: &Organization,
                api_keys: &[(ApiKey, DigestHa1)],
                owner: Option<&UserId>,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                insert_organization(&mut tx, &self.sealer, organization, api_keys).await?;
                if let Some(owner) = owner {
                    sqlx::query("INSERT INTO org_members (org_id, user_id, roles, joined_at) VALUES ($1, $2, $3, $4)")
                        .bind(organization.id.as_str())
                        .bind(owner.as_str())
                        .bind(encode_org_roles(&OrgRoles::single(orgdoor_domain::OrgRole::Owner)))
                        .bind(seconds(organization.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|error| {
                            if is_foreign_key_violation(&error) {
                                StoreError::from(Rejection::UserNotInOrg {
                                    user: owner.to_string(),
                                    org: organization.id.clone(),
                                })
                            } else {
                                error.into()
                            }
                        })?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
                let row: Option<OrganizationRow> = sqlx::query_as(&format!(
                    "SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = $1"
                ))
                .bind(id.as_str())
                .fetch_optional(&mut *self.reader.acquire().await?)
                .await?;
                row.map(Organization::try_from).transpose()
            }

            async fn rename_organization(
                &self,
                id: &OrgId,
                name: &OrgName,
            ) -> Result<Organization, StoreError> {
                let row: Option<OrganizationRow> = sqlx::query_as(&format!(
                    "UPDATE organizations SET name = $1 WHERE id = $2 RETURNING {ORGANIZATION_COLUMNS}"
                ))
                .bind(name.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *self.writer.acquire().await?)
                .await?;
                row.ok_or(Rejection::NotFound)?.try_into()
            }

            async fn delete_organization(&self, id: &OrgId) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                // Locking the organization holds off project inserts, whose foreign-key check
                // needs it, until this transaction ends.
                let lock = $lock_rows;
                let exists: Option<String> =
                    sqlx::query_scalar(&format!("SELECT id FROM organizations WHERE id = $1{lock}"))
                        .bind(id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Err(Rejection::NotFound.into());
                }
                let has_projects: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM projects WHERE org_id = $1)")
                        .bind(id.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                if has_projects {
                    return Err(Rejection::OrganizationHasProjects.into());
                }
                sqlx::query("DELETE FROM organizations WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_api_key(&self, key: &ApiKey, ha1: &DigestHa1) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                insert_api_key(&mut tx, &self.sealer, key, ha1).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_api_key(
                &self,
                public_key: &PublicKey,
            ) -> Result<Option<ApiKeyCredential>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                // Built once: every Digest request runs it.
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT k.*, {CREDENTIAL_ORG_COLUMNS}, l.cidr AS access_cidr \
                     FROM (SELECT {API_KEY_COLUMNS} FROM api_keys WHERE public_key = $1) k \
                     JOIN organizations o ON o.id = k.org_id \
                     LEFT JOIN api_key_access_list l ON l.api_key_id = k.id"
                ));
                let rows = sqlx::query(&SQL)
                .bind(public_key.as_str())
                .fetch_all(&mut *conn)
                .await?;
                let Some((WithCredentialOrg { credential: row, organization }, access_list)) =
                    with_access_list::<WithCredentialOrg<ApiKeyRow>>(&rows)?
                else {
                    return Ok(None);
                };
                let organization = organization.into_organization(row.org_id.clone())?;
                let (key, sealed): (ApiKey, Vec<u8>) = row.try_into()?;
                let mut keys = [key];
                load_key_grants(&mut conn, &mut keys).await?;
                let [key] = keys;
                let ha1 = self.sealer.open(&sealed, &ha1_context(key.public_key.as_str()))?;
                let ha1 = <[u8; 16]>::try_from(ha1.as_slice())
                    .map_err(|_| StoreError::Corrupt("a digest credential of the wrong length".into()))?;
                Ok(Some(ApiKeyCredential { key, ha1: DigestHa1(ha1), access_list, organization }))
            }

            async fn list_api_keys(&self, org: &OrgId, page: PageRequest) -> Result<Page<ApiKey>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let (rows, total_count) =
                    org_page::<ApiKeyRow>(&mut conn, "api_keys", API_KEY_COLUMNS, "id", org, page).await?;
                let mut items = rows
                    .into_iter()
                    .map(|row| <(ApiKey, Vec<u8>)>::try_from(row).map(|(key, _)| key))
                    .collect::<Result<Vec<_>, _>>()?;
                load_key_grants(&mut conn, &mut items).await?;
                Ok(Page { items, total_count })
            }

            async fn list_project_api_keys(
                &self,
                group: &GroupId,
                page: PageRequest,
            ) -> Result<Page<ApiKey>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                fetch_group(&mut conn, group, false).await?.ok_or(Rejection::NotFound)?;
                let total: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM api_key_project_roles WHERE project_id = $1",
                )
                .bind(group.as_str())
                .fetch_one(&mut *conn)
                .await?;
                let (limit, offset) = limit_offset(page);
                let columns = API_KEY_COLUMNS
                    .split(", ")
                    .map(|column| format!("k.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
                    "SELECT {columns} FROM api_keys k \
                     JOIN api_key_project_roles g ON g.api_key_id = k.id AND g.org_id = k.org_id \
                     WHERE g.project_id = $1 ORDER BY k.created_at, k.id LIMIT $2 OFFSET $3"
                ))
                .bind(group.as_str())
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *conn)
                .await?;
                let mut items = rows
                    .into_iter()
                    .map(|row| <(ApiKey, Vec<u8>)>::try_from(row).map(|(key, _)| key))
                    .collect::<Result<Vec<_>, _>>()?;
                load_key_grants(&mut conn, &mut items).await?;
                Ok(Page { items, total_count: count(total) })
            }

            async fn grant_api_key_project_roles(
                &self,
                group: &GroupId,
                key: &ApiKeyId,
                roles: &GroupRoles,
                now: OffsetDateTime,
            ) -> Result<ApiKey, StoreError> {
                let mut tx = self.begin_write().await?;
                let project = fetch_group(&mut tx, group, true).await?.ok_or(Rejection::NotFound)?;
                let mut key = fetch_api_key(&mut tx, &project.org_id, key)
                    .await?
                    .ok_or(Rejection::NotFound)?;
                let grant = ProjectGrant { group_id: group.clone(), roles: roles.clone() };
                upsert_key_grant(&mut tx, &key, &grant, now).await?;
                tx.commit().await?;
                // The grant as stored: in place of the one it replaced, or added.
                match key.project_roles.iter_mut().find(|held| held.group_id == grant.group_id) {
                    Some(held) => held.roles = grant.roles,
                    None => key.project_roles.push(grant),
                }
                Ok(key)
            }

            async fn revoke_api_key_project_roles(
                &self,
                group: &GroupId,
                key: &ApiKeyId,
            ) -> Result<(), StoreError> {
                let removed = sqlx::query(
                    "DELETE FROM api_key_project_roles WHERE project_id = $1 AND api_key_id = $2",
                )
                .bind(group.as_str())
                .bind(key.as_str())
                .execute(&mut *self.writer.acquire().await?)
                .await?;
                one_row_or(removed.rows_affected(), Rejection::NotFound)
            }

            async fn get_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                fetch_api_key(&mut conn, org, id).await
            }

            async fn update_api_key(
                &self,
                org: &OrgId,
                id: &ApiKeyId,
                description: Option<&str>,
                roles: Option<&OrgRoles>,
            ) -> Result<ApiKey, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut key = fetch_api_key(&mut tx, org, id).await?.ok_or(Rejection::NotFound)?;
                if let Some(description) = description {
                    key.description = description.to_owned();
                }
                if let Some(roles) = roles {
                    key.roles = roles.clone();
                }
                sqlx::query("UPDATE api_keys SET description = $1, roles = $2 WHERE id = $3")
                    .bind(&key.description)
                    .bind(encode_org_roles(&key.roles))
                    .bind(key.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(key)
            }

            async fn delete_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM api_keys WHERE org_id = $1 AND id = $2")
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)
            }

            async fn list_access_list(
                &self,
                org: &OrgId,
                credential: &Credential,
                page: PageRequest,
            ) -> Result<Page<AccessListEntry>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                if !credential_in_org(&mut conn, org, credential).await? {
                    return Err(Rejection::NotFound.into());
                }
                let (table, column, _, _, id) = access_list_tables(credential);
                let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"))
                    .bind(&id)
                    .fetch_one(&mut *conn)
                    .await?;
                let (limit, offset) = limit_offset(page);
                let rows: Vec<AccessListRow> = sqlx::query_as(&format!(
                    "SELECT cidr, created_at FROM {table} WHERE {column} = $1 \
                     ORDER BY created_at, cidr LIMIT $2 OFFSET $3"
                ))
                .bind(&id)
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *conn)
                .await?;
                Ok(Page {
                    items: rows.into_iter().map(AccessListEntry::try_from).collect::<Result<_, _>>()?,
                    total_count: count(total),
                })
            }

            async fn add_to_access_list(
                &self,
                org: &OrgId,
                credential: &Credential,
                networks: &[AllowedNetwork],
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                if !credential_in_org(&mut tx, org, credential).await? {
                    return Err(Rejection::NotFound.into());
                }
                let (table, column, _, _, id) = access_list_tables(credential);
                for network in networks {
                    sqlx::query(&format!(
                        "INSERT INTO {table} ({column}, cidr, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT ({column}, cidr) DO NOTHING"
                    ))
                    .bind(&id)
                    .bind(network.cidr())
                    .bind(seconds(now))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_access_list_entry(
                &self,
                org: &OrgId,
                credential: &Credential,
                network: &AllowedNetwork,
            ) -> Result<Option<AccessListEntry>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                if !credential_in_org(&mut conn, org, credential).await? {
                    return Ok(None);
                }
                let (table, column, _, _, id) = access_list_tables(credential);
                let row: Option<AccessListRow> = sqlx::query_as(&format!(
                    "SELECT cidr, created_at FROM {table} WHERE {column} = $1 AND cidr = $2"
                ))
                .bind(&id)
                .bind(network.cidr())
                .fetch_optional(&mut *conn)
                .await?;
                row.map(AccessListEntry::try_from).transpose()
            }

            async fn remove_from_access_list(
                &self,
                org: &OrgId,
                credential: &Credential,
                network: &AllowedNetwork,
            ) -> Result<(), StoreError> {
                let (table, column, owners, owner_column, id) = access_list_tables(credential);
                let deleted = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE cidr = $1 AND {column} = \
                     (SELECT {owner_column} FROM {owners} WHERE {owner_column} = $2 AND org_id = $3)"
                ))
                .bind(network.cidr())
                .bind(&id)
                .bind(org.as_str())
                .execute(&mut *self.writer.acquire().await?)
                .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)
            }

            async fn create_service_account(&self, account: &ServiceAccount) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(&format!(
                    "INSERT INTO service_accounts ({SERVICE_ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
                ))
                .bind(account.client_id.as_str())
                .bind(account.org_id.as_str())
                .bind(&account.name)
                .bind(&account.description)
                .bind(encode_org_roles(&account.roles))
                .bind(seconds(account.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|error| write_error(error, || Rejection::NotFound))?;
                for secret in &account.secrets {
                    insert_secret(&mut tx, &account.client_id, secret).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_service_accounts(
                &self,
                org: &OrgId,
                page: PageRequest,
            ) -> Result<Page<ServiceAccount>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let (rows, total_count) = org_page::<ServiceAccountRow>(&mut conn, "service_accounts", SERVICE_ACCOUNT_COLUMNS, "client_id", org, page)
                .await?;
                let mut items = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut account = ServiceAccount::try_from(row)?;
                    account.secrets = load_secrets(&mut conn, &account.client_id).await?;
                    items.push(account);
                }
                Ok(Page { items, total_count })
            }

            async fn get_service_account(
                &self,
                org: &OrgId,
                client_id: &ClientId,
            ) -> Result<Option<ServiceAccount>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                fetch_service_account(&mut conn, Some(org), client_id, false).await
            }

            async fn update_service_account(
                &self,
                org: &OrgId,
                client_id: &ClientId,
                name: Option<&str>,
                description: Option<&str>,
                roles: Option<&OrgRoles>,
            ) -> Result<ServiceAccount, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut account =
                    fetch_service_account(&mut tx, Some(org), client_id, true).await?.ok_or(Rejection::NotFound)?;
                if let Some(name) = name {
                    account.name = name.to_owned();
                }
                if let Some(description) = description {
                    account.description = description.to_owned();
                }
                if let Some(roles) = roles {
                    account.roles = roles.clone();
                }
                sqlx::query("UPDATE service_accounts SET name = $1, description = $2, roles = $3 WHERE client_id = $4")
                    .bind(&account.name)
                    .bind(&account.description)
                    .bind(encode_org_roles(&account.roles))
                    .bind(client_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(account)
            }

            async fn delete_service_account(&self, org: &OrgId, client_id: &ClientId) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM service_accounts WHERE org_id = $1 AND client_id = $2")
                    .bind(org.as_str())
                    .bind(client_id.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)
            }

            async fn add_service_account_secret(
                &self,
                org: &OrgId,
                client_id: &ClientId,
                secret: &ServiceAccountSecret,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                if !credential_in_org(&mut tx, org, &Credential::ServiceAccount(client_id.clone())).await? {
                    return Err(Rejection::NotFound.into());
                }
                insert_secret(&mut tx, client_id, secret).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_service_account_secret(
                &self,
                org: &OrgId,
                client_id: &ClientId,
                secret: &SecretId,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query(
                    "DELETE FROM service_account_secrets WHERE id = $1 AND client_id = \
                     (SELECT client_id FROM service_accounts WHERE client_id = $2 AND org_id = $3)",
                )
                .bind(secret.as_str())
                .bind(client_id.as_str())
                .bind(org.as_str())
                .execute(&mut *tx)
                .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)?;
                // Tokens minted with the secret go with it, in the same transaction.
                sqlx::query("DELETE FROM oauth_tokens WHERE secret_id = $1 AND client_id = $2")
                    .bind(secret.as_str())
                    .bind(client_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_service_account(
                &self,
                client_id: &ClientId,
            ) -> Result<Option<ServiceAccountCredential>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let Some(account) = fetch_service_account(&mut conn, None, client_id, false).await? else {
                    return Ok(None);
                };
                let access_list = load_access_list(&mut conn, &Credential::ServiceAccount(client_id.clone())).await?;
                Ok(Some(ServiceAccountCredential { account, access_list }))
            }

            async fn issue_access_token(
                &self,
                token: &AccessToken,
                secret: Option<&SecretId>,
                now: OffsetDateTime,
                max_active: u64,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                fetch_service_account(&mut tx, None, &token.client_id, true).await?.ok_or(Rejection::NotFound)?;
                sqlx::query("DELETE FROM oauth_tokens WHERE client_id = $1 AND expires_at <= $2")
                    .bind(token.client_id.as_str())
                    .bind(seconds(now))
                    .execute(&mut *tx)
                    .await?;
                let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oauth_tokens WHERE client_id = $1")
                    .bind(token.client_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                if count(active) >= max_active {
                    return Err(Rejection::TooManyTokens.into());
                }
                sqlx::query("INSERT INTO oauth_tokens (digest, client_id, created_at, expires_at, secret_id) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&token.digest[..])
                    .bind(token.client_id.as_str())
                    .bind(seconds(token.created_at))
                    .bind(seconds(token.expires_at))
                    .bind(secret.map(SecretId::as_str))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_access_token(
                &self,
                digest: &[u8; 32],
            ) -> Result<Option<BearerCredential>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                // The token, its account, the account's organization and access list in one
                // statement, built once: this runs on every Bearer request.
                static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
                    "SELECT c.*, {CREDENTIAL_ORG_COLUMNS}, l.cidr AS access_cidr FROM ( \
                         SELECT a.client_id, a.org_id, a.name, a.description, a.roles, a.created_at, \
                             t.created_at AS token_created_at, t.expires_at AS token_expires_at \
                         FROM oauth_tokens t JOIN service_accounts a ON a.client_id = t.client_id \
                         WHERE t.digest = $1) c \
                     JOIN organizations o ON o.id = c.org_id \
                     LEFT JOIN service_account_access_list l ON l.client_id = c.client_id",
                ));
                let rows = sqlx::query(&SQL)
                .bind(&digest[..])
                .fetch_all(&mut *conn)
                .await?;
                let Some((WithCredentialOrg { credential: row, organization }, access_list)) =
                    with_access_list::<WithCredentialOrg<TokenAccountRow>>(&rows)?
                else {
                    return Ok(None);
                };
                let organization = organization.into_organization(row.account.org_id.clone())?;
                let token = AccessToken::try_from(TokenRow {
                    digest: digest.to_vec(),
                    client_id: row.account.client_id.clone(),
                    created_at: row.token_created_at,
                    expires_at: row.token_expires_at,
                })?;
                let account = ServiceAccount::try_from(row.account)?;
                Ok(Some(BearerCredential {
                    token,
                    credential: ServiceAccountCredential { account, access_list },
                    organization,
                }))
            }

            async fn revoke_access_token(&self, client_id: &ClientId, digest: &[u8; 32]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM oauth_tokens WHERE digest = $1 AND client_id = $2")
                    .bind(&digest[..])
                    .bind(client_id.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                Ok(())
            }

            async fn take_rate_limit_token(
                &self,
                bucket: &str,
                limits: TokenBucket,
                now: OffsetDateTime,
            ) -> Result<TakeOutcome, StoreError> {
                let mut tx = self.begin_write().await?;
                let lock = $lock_rows;
                let row: Option<(i64, i64)> =
                    sqlx::query_as(&format!("SELECT tokens, period FROM rate_limit_buckets WHERE bucket = $1{lock}"))
                        .bind(bucket)
                        .fetch_optional(&mut *tx)
                        .await?;
                let state = row.map(|(tokens, period)| BucketState { tokens, period });
                let (next, outcome) = limits.take(state, now);
                // Two first requests may both find no row; the upsert then keeps the count of
                // whichever commits last, off by one at most once per bucket.
                sqlx::query(
                    "INSERT INTO rate_limit_buckets (bucket, tokens, period, expires_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, period = excluded.period, \
                     expires_at = excluded.expires_at",
                )
                .bind(bucket)
                .bind(next.tokens)
                .bind(next.period)
                .bind(seconds(limits.full_again_after(now)))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(outcome)
            }

            async fn delete_idle_rate_limit_buckets(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = sqlx::query("DELETE FROM rate_limit_buckets WHERE expires_at < $1")
                    .bind(seconds(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(deleted)
            }

            async fn create_team(&self, team: &Team, usernames: &[EmailAddress]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO teams (id, org_id, name, name_key, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(team.id.as_str())
                .bind(team.org_id.as_str())
                .bind(team.name.as_str())
                .bind(team.name.as_str().to_lowercase())
                .bind(seconds(team.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|error| write_error(error, || Rejection::TeamNameTaken(team.name.to_string())))?;
                add_team_members_by_username(&mut tx, team, usernames, team.created_at).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_teams(&self, org: &OrgId, page: PageRequest) -> Result<Page<Team>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let (rows, total_count) =
                    org_page::<TeamRow>(&mut conn, "teams", TEAM_COLUMNS, "id", org, page).await?;
                Ok(Page {
                    items: rows
                        .into_iter()
                        .map(Team::try_from)
                        .collect::<Result<_, _>>()?,
                    total_count,
                })
            }

            async fn get_team(&self, org: &OrgId, id: &TeamId) -> Result<Option<Team>, StoreError> {
                let row: Option<TeamRow> = sqlx::query_as(&format!(
                    "SELECT {TEAM_COLUMNS} FROM teams WHERE org_id = $1 AND id = $2"
                ))
                .bind(org.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *self.reader.acquire().await?)
                .await?;
                row.map(Team::try_from).transpose()
            }

            async fn find_team_by_name(
                &self,
                org: &OrgId,
                name: &TeamName,
            ) -> Result<Option<Team>, StoreError> {
                let row: Option<TeamRow> = sqlx::query_as(&format!(
                    "SELECT {TEAM_COLUMNS} FROM teams WHERE org_id = $1 AND name_key = $2"
                ))
                .bind(org.as_str())
                .bind(name.as_str().to_lowercase())
                .fetch_optional(&mut *self.reader.acquire().await?)
                .await?;
                row.map(Team::try_from).transpose()
            }

            async fn rename_team(
                &self,
                org: &OrgId,
                id: &TeamId,
                name: &TeamName,
            ) -> Result<Team, StoreError> {
                let row: Option<TeamRow> = sqlx::query_as(&format!(
                    "UPDATE teams SET name = $1, name_key = $2 WHERE org_id = $3 AND id = $4 RETURNING {TEAM_COLUMNS}"
                ))
                .bind(name.as_str())
                .bind(name.as_str().to_lowercase())
                .bind(org.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *self.writer.acquire().await?)
                .await
                .map_err(|error| write_error(error, || Rejection::TeamNameTaken(name.to_string())))?;
                row.ok_or(Rejection::NotFound)?.try_into()
            }

            async fn delete_team(&self, org: &OrgId, id: &TeamId) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)
            }

            async fn create_group(&self, group: &Group, owner_key: Option<&ApiKeyId>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO projects (id, org_id, name, name_key, with_default_alerts_settings, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(group.id.as_str())
                .bind(group.org_id.as_str())
                .bind(group.name.as_str())
                .bind(group.name.as_str().to_lowercase())
                .bind(group.with_default_alerts_settings)
                .bind(seconds(group.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|error| write_error(error, || Rejection::ProjectNameTaken(group.name.to_string())))?;
                replace_group_tags(&mut tx, &group.id, &group.tags).await?;
                if let Some(owner_key) = owner_key {
                    let key = fetch_api_key(&mut tx, &group.org_id, owner_key)
                        .await?
                        .ok_or(Rejection::NotFound)?;
                    let grant = ProjectGrant {
                        group_id: group.id.clone(),
                        roles: GroupRoles::single(GroupRole::Owner),
                    };
                    upsert_key_grant(&mut tx, &key, &grant, group.created_at).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_groups(&self, org: &OrgId, page: PageRequest) -> Result<Page<Group>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let (rows, total_count) =
                    org_page::<GroupRow>(&mut conn, "projects", GROUP_COLUMNS, "id", org, page).await?;
                let mut groups = rows
                    .into_iter()
                    .map(Group::try_from)
                    .collect::<Result<Vec<_>, _>>()?;
                load_group_tags(&mut conn, &mut groups).await?;
                Ok(Page {
                    items: groups,
                    total_count,
                })
            }

            async fn get_group(&self, id: &GroupId) -> Result<Option<Group>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                fetch_group(&mut conn, id, false).await
            }

            async fn find_group_by_name(
                &self,
                org: &OrgId,
                name: &orgdoor_domain::ProjectName,
            ) -> Result<Option<Group>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let id: Option<String> =
                    sqlx::query_scalar("SELECT id FROM projects WHERE org_id = $1 AND name_key = $2")
                        .bind(org.as_str())
                        .bind(name.as_str().to_lowercase())
                        .fetch_optional(&mut *conn)
                        .await?;
                let Some(id) = id else { return Ok(None) };
                fetch_group(&mut conn, &parse(&id, "project id")?, false).await
            }

            async fn update_group(&self, id: &GroupId, update: GroupUpdate) -> Result<Group, StoreError> {
                let mut tx = self.begin_write().await?;
                let mut group = fetch_group(&mut tx, id, true).await?.ok_or(Rejection::NotFound)?;
                let tags_changed = update.tags.is_some();
                update.apply_to(&mut group);
                sqlx::query(
                    "UPDATE projects SET name = $1, name_key = $2, with_default_alerts_settings = $3 WHERE id = $4",
                )
                .bind(group.name.as_str())
                .bind(group.name.as_str().to_lowercase())
                .bind(group.with_default_alerts_settings)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|error| write_error(error, || Rejection::ProjectNameTaken(group.name.to_string())))?;
                if tags_changed {
                    replace_group_tags(&mut tx, id, &group.tags).await?;
                }
                tx.commit().await?;
                Ok(group)
            }

            async fn delete_group(&self, id: &GroupId) -> Result<(), StoreError> {
                let deleted = sqlx::query("DELETE FROM projects WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                one_row_or(deleted.rows_affected(), Rejection::NotFound)
            }

            async fn invite(
                &self,
                invitation: &Invitation,
                when_pending: WhenPending,
                now: OffsetDateTime,
            ) -> Result<Invitation, StoreError> {
                let mut tx = self.begin_write().await?;
                let stored = insert_invitation(&mut tx, invitation, when_pending, now).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn list_org_users(
                &self,
                org: &OrgId,
                filter: &OrgUserFilter,
                page: PageRequest,
                now: OffsetDateTime,
            ) -> Result<Page<OrgUser>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                org_users_page(&mut conn, org, filter, page, now).await
            }

            async fn get_org_user(&self, org: &OrgId, id: &UserId) -> Result<Option<OrgUser>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                if let Some(member) = fetch_member(&mut conn, org, id, false).await? {
                    return Ok(Some(OrgUser::Member(member)));
                }
                let invitation =
                    fetch_invitation(&mut conn, org, &InvitationSelector::UserId(id.clone()), false).await?;
                Ok(invitation.map(OrgUser::Invited))
            }

            async fn update_org_user(
                &self,
                org: &OrgId,
                id: &UserId,
                update: MembershipUpdate,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                let user = lock_current_org_user(&mut tx, org, id, now).await?;
                let updated = update_org_user_row(&mut tx, user, update, now).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn change_org_user_role(
                &self,
                org: &OrgId,
                id: &UserId,
                change: RoleChange,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                let user = lock_current_org_user(&mut tx, org, id, now).await?;
                let roles = change.apply(user.roles()).map_err(|_| Rejection::LastRole)?;
                let update = MembershipUpdate {
                    roles: Some(roles),
                    ..MembershipUpdate::default()
                };
                let updated = update_org_user_row(&mut tx, user, update, now).await?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn remove_org_user(&self, org: &OrgId, id: &UserId, members_only: bool) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let removed = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
                    .bind(org.as_str())
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let removed = if removed == 0 && !members_only {
                    sqlx::query("DELETE FROM invitations WHERE org_id = $1 AND user_id = $2")
                        .bind(org.as_str())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                } else {
                    removed
                };
                one_row_or(removed, Rejection::UserNotInOrg { user: id.to_string(), org: org.clone() })?;
                tx.commit().await?;
                Ok(())
            }

            async fn answer_invitation(
                &self,
                org: &OrgId,
                selector: &InvitationSelector,
                answer: InvitationAnswer,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                let invitation = lock_pending_invitation(&mut tx, org, selector, now).await?;
                let answered = match answer {
                    InvitationAnswer::Accept(profile) => {
                        OrgUser::Member(accept_invitation(&mut tx, invitation, profile, now).await?)
                    }
                    InvitationAnswer::Decline => {
                        let declined_at = orgdoor_domain::truncate_to_seconds(now);
                        sqlx::query("UPDATE invitations SET declined_at = $1 WHERE id = $2")
                            .bind(seconds(declined_at))
                            .bind(invitation.id.as_str())
                            .execute(&mut *tx)
                            .await?;
                        OrgUser::Invited(Invitation {
                            declined_at: Some(declined_at),
                            ..invitation
                        })
                    }
                };
                tx.commit().await?;
                Ok(answered)
            }

            async fn add_team_members(
                &self,
                org: &OrgId,
                team: &TeamId,
                users: &[UserId],
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                lock_team(&mut tx, org, team).await?;
                for user in users {
                    if fetch_member(&mut tx, org, user, false).await?.is_none() {
                        return Err(not_a_member(&mut tx, org, "user_id", user.as_str(), user.to_string(), now).await?);
                    }
                    insert_team_member(&mut tx, org, team, user, now).await?;
                }
                check_team_size(&mut tx, team).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn change_team_membership(
                &self,
                org: &OrgId,
                team: &TeamId,
                user: &UserId,
                join: bool,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                lock_team(&mut tx, org, team).await?;
                let current = lock_current_org_user(&mut tx, org, user, now).await?;
                let mut teams = current.team_ids().to_vec();
                match (join, teams.contains(team)) {
                    (true, true) => {
                        return Err(Rejection::AlreadyInTeam { user: user.clone(), team: team.clone() }.into());
                    }
                    (true, false) => teams.push(team.clone()),
                    (false, true) => teams.retain(|held| held != team),
                    (false, false) => {
                        return Err(Rejection::UserNotInOrg { user: user.to_string(), org: org.clone() }.into());
                    }
                }
                let update = MembershipUpdate {
                    team_ids: Some(teams),
                    ..MembershipUpdate::default()
                };
                let changed = update_org_user_row(&mut tx, current, update, now).await?;
                tx.commit().await?;
                Ok(changed)
            }

            async fn remove_team_member(&self, org: &OrgId, team: &TeamId, user: &UserId) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                lock_team(&mut tx, org, team).await?;
                let removed = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .bind(team.as_str())
                    .bind(user.as_str())
                    .execute(&mut *tx)
                    .await?;
                one_row_or(
                    removed.rows_affected(),
                    Rejection::UserNotInOrg { user: user.to_string(), org: org.clone() },
                )?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_project_teams(&self, group: &GroupId) -> Result<Vec<ProjectTeam>, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT team_id, roles FROM project_teams WHERE project_id = $1 ORDER BY assigned_at, team_id",
                )
                .bind(group.as_str())
                .fetch_all(&mut *self.reader.acquire().await?)
                .await?;
                rows.into_iter()
                    .map(|(team, roles)| {
                        Ok(ProjectTeam {
                            team_id: parse(&team, "team id")?,
                            roles: decode_group_roles(&roles)?,
                        })
                    })
                    .collect()
            }

            async fn assign_project_teams(
                &self,
                group: &GroupId,
                teams: &[ProjectTeam],
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let project = fetch_group(&mut tx, group, true).await?.ok_or(Rejection::NotFound)?;
                let team_ids: Vec<TeamId> = teams.iter().map(|team| team.team_id.clone()).collect();
                check_references(&mut tx, &project.org_id, &team_ids, &[]).await?;
                for team in teams {
                    sqlx::query(
                        "INSERT INTO project_teams (project_id, org_id, team_id, roles, assigned_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (project_id, team_id) DO UPDATE SET roles = excluded.roles",
                    )
                    .bind(group.as_str())
                    .bind(project.org_id.as_str())
                    .bind(team.team_id.as_str())
                    .bind(encode_group_roles(&team.roles))
                    .bind(seconds(now))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn remove_project_team(&self, group: &GroupId, team: &TeamId) -> Result<(), StoreError> {
                let removed = sqlx::query("DELETE FROM project_teams WHERE project_id = $1 AND team_id = $2")
                    .bind(group.as_str())
                    .bind(team.as_str())
                    .execute(&mut *self.writer.acquire().await?)
                    .await?;
                one_row_or(removed.rows_affected(), Rejection::NotFound)
            }

            async fn add_project_user(
                &self,
                group: &GroupId,
                roles: &GroupRoles,
                newcomer: &Invitation,
                addition: ProjectAddition,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                let project = existing_group(&mut tx, group, true).await?;
                let org = &project.org_id;
                let taken = || Rejection::UsernameTaken(newcomer.username.clone());
                let assignments = |held: &[GroupRoleAssignment]| MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(held, group, Some(roles))),
                    ..MembershipUpdate::default()
                };
                let added = if let Some(id) = member_by_username(&mut tx, org, &newcomer.username).await? {
                    let member = fetch_member(&mut tx, org, &id, true).await?.ok_or_else(taken)?;
                    let in_project = roles_in(&member.group_role_assignments, group).is_some();
                    match addition {
                        ProjectAddition::Invitation => return Err(taken().into()),
                        ProjectAddition::NewUser if in_project => return Err(taken().into()),
                        ProjectAddition::Access | ProjectAddition::NewUser => {}
                    }
                    let update = assignments(&member.group_role_assignments);
                    OrgUser::Member(update_member_row(&mut tx, member, update, now).await?)
                } else if let Some(mut invitation) =
                    fetch_invitation(&mut tx, org, &InvitationSelector::Username(newcomer.username.clone()), true)
                        .await?
                        .filter(|invitation| invitation.is_pending(now))
                {
                    let in_project = roles_in(&invitation.group_role_assignments, group).is_some();
                    if addition == ProjectAddition::NewUser && in_project {
                        return Err(taken().into());
                    }
                    if addition == ProjectAddition::Invitation {
                        // Sent again, as a second invitation to a pending address is.
                        invitation.username = newcomer.username.clone();
                        invitation.inviter_username = newcomer.inviter_username.clone();
                        invitation.created_at = newcomer.created_at;
                        invitation.expires_at = newcomer.expires_at;
                        sqlx::query(
                            "UPDATE invitations SET username = $1, inviter_username = $2, created_at = $3, \
                             expires_at = $4 WHERE id = $5",
                        )
                        .bind(invitation.username.as_str())
                        .bind(&invitation.inviter_username)
                        .bind(seconds(invitation.created_at))
                        .bind(seconds(invitation.expires_at))
                        .bind(invitation.id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                    let update = assignments(&invitation.group_role_assignments);
                    OrgUser::Invited(update_invitation_row(&mut tx, invitation, update).await?)
                } else {
                    let newcomer = Invitation {
                        group_role_assignments: with_roles_in(&newcomer.group_role_assignments, group, Some(roles)),
                        ..newcomer.clone()
                    };
                    OrgUser::Invited(insert_invitation(&mut tx, &newcomer, WhenPending::Refuse, now).await?)
                };
                tx.commit().await?;
                Ok(added)
            }

            async fn change_project_user_roles(
                &self,
                group: &GroupId,
                user: &UserId,
                change: ProjectRoleChange,
                now: OffsetDateTime,
            ) -> Result<OrgUser, StoreError> {
                let mut tx = self.begin_write().await?;
                let project = existing_group(&mut tx, group, false).await?;
                let current = lock_current_org_user(&mut tx, &project.org_id, user, now)
                    .await
                    .map_err(|error| match error {
                        StoreError::Rejected(Rejection::UserNotInOrg { .. }) => Rejection::NotFound.into(),
                        other => other,
                    })?;
                let roles = current.roles_in(group).ok_or(Rejection::NotFound)?;
                let roles = change.apply(&roles).map_err(|_| Rejection::LastRole)?;
                let update = MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(current.group_role_assignments(), group, Some(&roles))),
                    ..MembershipUpdate::default()
                };
                let changed = update_org_user_row(&mut tx, current, update, now).await?;
                tx.commit().await?;
                Ok(changed)
            }

            async fn remove_project_user(
                &self,
                group: &GroupId,
                user: &UserId,
                members_only: bool,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let project = existing_group(&mut tx, group, false).await?;
                let removed = sqlx::query(
                    "DELETE FROM member_project_roles WHERE org_id = $1 AND project_id = $2 AND user_id = $3",
                )
                .bind(project.org_id.as_str())
                .bind(group.as_str())
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if removed == 0 {
                    let invitation = if members_only {
                        None
                    } else {
                        fetch_invitation(&mut tx, &project.org_id, &InvitationSelector::UserId(user.clone()), true)
                            .await?
                            .filter(|invitation| roles_in(&invitation.group_role_assignments, group).is_some())
                    };
                    withdraw_from_project(&mut tx, invitation.ok_or(Rejection::NotFound)?, group).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn find_user(&self, selector: &UserSelector) -> Result<Option<(User, Vec<Member>)>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let Some(user) = fetch_user(&mut conn, selector).await? else {
                    return Ok(None);
                };
                let members = fetch_members(&mut conn, MemberScope::Person(&user.id), false).await?;
                Ok(Some((user, members)))
            }

            async fn get_organization_with_pending_invitations(
                &self,
                org: &OrgId,
                username: Option<&EmailAddress>,
                now: OffsetDateTime,
            ) -> Result<Option<(Organization, Vec<Invitation>)>, StoreError> {
                // Built once: this is the most frequent request.
                fn sql(filter: &str) -> String {
                    // `i.org_id = $1`, not `= o.id`: PostgreSQL plans a correlated reference with
                    // the average organization's share of the table (a sequential scan once one
                    // holds a million invitations), and the parameter with the real one.
                    let invitations = invitations_json(
                        &format!("i.org_id = $1 AND i.expires_at > $2 AND i.declined_at IS NULL {filter}"),
                        "i.created_at, i.id",
                    );
                    format!(
                        "SELECT {ORGANIZATION_COLUMNS}, {invitations} AS invitations FROM organizations o WHERE o.id = $1"
                    )
                }
                static ALL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| sql(""));
                static BY_USERNAME: std::sync::LazyLock<String> =
                    std::sync::LazyLock::new(|| sql("AND i.username_key = $3"));
                let sql: &str = if username.is_some() { &BY_USERNAME } else { &ALL };
                let mut conn = self.reader.acquire().await?;
                let mut query = sqlx::query(sql).bind(org.as_str()).bind(seconds(now));
                if let Some(username) = username {
                    query = query.bind(username.key());
                }
                let Some(row) = query.fetch_optional(&mut *conn).await? else { return Ok(None) };
                let organization = Organization::try_from(OrganizationRow::from_row(&row)?)?;
                let invitations = invitations_from_json(&row, "invitations")?;
                drop(row);
                release_large_buffers(&mut conn);
                Ok(Some((organization, invitations)))
            }

            async fn get_pending_invitation(
                &self,
                org: &OrgId,
                id: &InvitationId,
                now: OffsetDateTime,
            ) -> Result<Option<Invitation>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let invitation =
                    fetch_invitation(&mut conn, org, &InvitationSelector::Id(id.clone()), false).await?;
                Ok(invitation.filter(|invitation| invitation.is_pending(now)))
            }

            async fn update_pending_invitation(
                &self,
                org: &OrgId,
                selector: &InvitationSelector,
                update: MembershipUpdate,
                now: OffsetDateTime,
            ) -> Result<Invitation, StoreError> {
                let mut tx = self.begin_write().await?;
                let invitation = lock_pending_invitation(&mut tx, org, selector, now).await?;
                let invitation = update_invitation_row(&mut tx, invitation, update).await?;
                tx.commit().await?;
                Ok(invitation)
            }

            async fn delete_pending_invitation(
                &self,
                org: &OrgId,
                id: &InvitationId,
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let deleted =
                    sqlx::query(
                        "DELETE FROM invitations WHERE org_id = $1 AND id = $2 AND expires_at > $3 \
                         AND declined_at IS NULL",
                    )
                        .bind(org.as_str())
                        .bind(id.as_str())
                        .bind(seconds(now))
                        .execute(&mut *self.writer.acquire().await?)
                        .await?;
                one_row_or(deleted.rows_affected(), Rejection::InvitationNotFound)
            }

            async fn list_pending_project_invitations(
                &self,
                group: &GroupId,
                username: Option<&EmailAddress>,
                now: OffsetDateTime,
            ) -> Result<Vec<ProjectInvitation>, StoreError> {
                let filter = if username.is_some() { "AND i.username_key = $3" } else { "" };
                let invitations = invitations_json(
                    &format!(
                        "i.org_id = (SELECT p.org_id FROM projects p WHERE p.id = $1) \
                         AND i.expires_at > $2 AND i.declined_at IS NULL {filter} \
                         AND EXISTS (SELECT 1 FROM invitation_project_roles r \
                                     WHERE r.invitation_id = i.id AND r.project_id = $1)"
                    ),
                    "i.created_at, i.id",
                );
                let sql = format!("SELECT {invitations} AS invitations");
                let mut query = sqlx::query(&sql).bind(group.as_str()).bind(seconds(now));
                if let Some(username) = username {
                    query = query.bind(username.key());
                }
                let mut conn = self.reader.acquire().await?;
                let row = query.fetch_one(&mut *conn).await?;
                let invitations = invitations_from_json(&row, "invitations")?;
                Ok(invitations
                    .iter()
                    .filter_map(|invitation| ProjectInvitation::of(invitation, group))
                    .collect())
            }

            async fn get_pending_project_invitation(
                &self,
                group: &GroupId,
                id: &InvitationId,
                now: OffsetDateTime,
            ) -> Result<Option<ProjectInvitation>, StoreError> {
                let mut conn = self.reader.acquire().await?;
                let Some(project) = fetch_group(&mut conn, group, false).await? else { return Ok(None) };
                let invitation =
                    fetch_invitation(&mut conn, &project.org_id, &InvitationSelector::Id(id.clone()), false).await?;
                Ok(invitation
                    .filter(|invitation| invitation.is_pending(now))
                    .and_then(|invitation| ProjectInvitation::of(&invitation, group)))
            }

            async fn update_pending_project_invitation(
                &self,
                group: &GroupId,
                selector: &InvitationSelector,
                roles: &GroupRoles,
                now: OffsetDateTime,
            ) -> Result<ProjectInvitation, StoreError> {
                let mut tx = self.begin_write().await?;
                let project = existing_group(&mut tx, group, false).await?;
                let invitation = lock_pending_project_invitation(&mut tx, &project, selector, now).await?;
                let update = MembershipUpdate {
                    group_role_assignments: Some(with_roles_in(&invitation.group_role_assignments, group, Some(roles))),
                    ..MembershipUpdate::default()
                };
                let invitation = update_invitation_row(&mut tx, invitation, update).await?;
                tx.commit().await?;
                ProjectInvitation::of(&invitation, group).ok_or_else(|| Rejection::InvitationNotFound.into())
            }

            async fn delete_pending_project_invitation(
                &self,
                group: &GroupId,
                id: &InvitationId,
                now: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let project = existing_group(&mut tx, group, false).await?;
                let invitation =
                    lock_pending_project_invitation(&mut tx, &project, &InvitationSelector::Id(id.clone()), now)
                        .await
                        .map_err(|error| match error {
                            StoreError::Rejected(Rejection::InvitationExpired) => Rejection::InvitationNotFound.into(),
                            other => other,
                        })?;
                withdraw_from_project(&mut tx, invitation, group).await?;
                tx.commit().await?;
                Ok(())
            }
        }

    };
}

pub(crate) use impl_sql_store;
