//! Putting a checked seed into a store, idempotently: each entry is looked up by its natural key
//! (an organization's id or name, a public key, a client id, a username, a team's or project's
//! name) and made only when missing; what exists is left as it is.

use std::sync::Arc;

use anyhow::Context;
use orgdoor_domain::{
    GroupRoleAssignment, NewGroup, NewInvitation, NewOrganization, NewTeam, OrgRoles, Organization,
    ProjectName, RoleSet, ServiceAccount, ServiceAccountSecret, TeamId, TeamName,
};
use orgdoor_store::{ProjectTeam, Store, UserSelector, WhenPending};
use time::OffsetDateTime;

use super::{Parsed, Seed, SeedOrganization};
use crate::invitee::{Answer, Profile, answer_as_invitee};
use crate::provision::FixedKey;

/// Who seeded invitations name as their inviter.
const SEEDER: &str = "orgdoor seed";
/// How long a seeded service account secret lasts: the longest a secret may.
const SECRET_LIFETIME_HOURS: i64 = 8766;

/// Puts what `seed` declares into `store`, leaving what is there already.
pub async fn apply(seed: &Seed, store: &Arc<dyn Store>, now: OffsetDateTime) -> anyhow::Result<()> {
    for declared in &seed.organizations {
        let organization = organization(store, declared, now).await?;
        let name = organization.name.as_str().to_owned();
        members(store, &organization, declared, now)
            .await
            .with_context(|| format!("seeding organization {name}"))?;
    }
    Ok(())
}

fn roles<R: Copy + PartialEq>(parsed: &[Parsed<R>]) -> anyhow::Result<RoleSet<R>> {
    RoleSet::new(parsed.iter().map(|role| role.0)).context("at least one role")
}

async fn organization(
    store: &Arc<dyn Store>,
    declared: &SeedOrganization,
    now: OffsetDateTime,
) -> anyhow::Result<Organization> {
    let name = &declared.name.0;
    let existing = match &declared.id {
        Some(id) => store.get_organization(&id.0).await?,
        None => store
            .list_organizations()
            .await?
            .into_iter()
            .find(|organization| {
                organization
                    .name
                    .as_str()
                    .eq_ignore_ascii_case(name.as_str())
            }),
    };
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let mut organization = NewOrganization {
        name: name.clone(),
        skip_default_alerts_settings: false,
    }
    .into_organization(now);
    if let Some(id) = &declared.id {
        organization.id = id.0.clone();
    }
    store.create_organization(&organization, &[], None).await?;
    Ok(organization)
}

async fn members(
    store: &Arc<dyn Store>,
    organization: &Organization,
    declared: &SeedOrganization,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let org = &organization.id;
    for key in &declared.api_keys {
        FixedKey::parse(key.public_key.0.as_str(), &key.private_key)?
            .ensure_in(store, org, roles(&key.roles)?, &key.description, now)
            .await?;
    }
    for account in &declared.service_accounts {
        if let Some(stored) = store.find_service_account(&account.client_id.0).await? {
            anyhow::ensure!(
                stored.account.org_id == *org,
                "service account {} belongs to another organization",
                account.client_id.0
            );
            continue;
        }
        let secret = ServiceAccountSecret::with_value(&account.secret, now, SECRET_LIFETIME_HOURS)
            .context("a service account secret is mdb_sa_sk_ and more")?;
        store
            .create_service_account(&ServiceAccount {
                client_id: account.client_id.0.clone(),
                org_id: org.clone(),
                name: account.name.clone(),
                description: account.description.clone(),
                roles: roles(&account.roles)?,
                created_at: orgdoor_domain::truncate_to_seconds(now),
                secrets: vec![secret],
            })
            .await?;
    }
    for user in &declared.users {
        let username = &user.username.0;
        if is_member(store, organization, username).await? {
            continue;
        }
        if pending_invitation(store, organization, username, now)
            .await?
            .is_none()
        {
            invite(
                store,
                organization,
                username,
                roles(&user.roles)?,
                Vec::new(),
                now,
            )
            .await?;
        }
        let profile = Profile {
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            country: None,
            mobile_number: None,
        };
        answer_as_invitee(
            store.as_ref(),
            org,
            username.as_str(),
            Answer::Accept(profile),
            now,
        )
        .await
        .map_err(|error| anyhow::anyhow!("{}: {}", username, error.parts().detail))?;
    }
    for team in &declared.teams {
        let name = TeamName::parse(team.name.clone())?;
        if store.find_team_by_name(org, &name).await?.is_some() {
            continue;
        }
        let usernames: Vec<_> = team.members.iter().map(|member| member.0.clone()).collect();
        let created = NewTeam {
            org_id: org.clone(),
            name,
        }
        .into_team(now);
        store.create_team(&created, &usernames).await?;
    }
    for project in &declared.projects {
        let name = ProjectName::parse(project.name.clone())?;
        if store.find_group_by_name(org, &name).await?.is_some() {
            continue;
        }
        let group = NewGroup {
            org_id: org.clone(),
            name,
            tags: Vec::new(),
            with_default_alerts_settings: false,
        }
        .into_group(now);
        store.create_group(&group, None).await?;
        let mut teams = Vec::new();
        for team in &project.teams {
            teams.push(ProjectTeam {
                team_id: team_id(store, organization, &team.team).await?,
                roles: roles(&team.roles)?,
            });
        }
        if !teams.is_empty() {
            store.assign_project_teams(&group.id, &teams, now).await?;
        }
    }
    for invitation in &declared.invitations {
        let username = &invitation.username.0;
        if is_member(store, organization, username).await?
            || pending_invitation(store, organization, username, now)
                .await?
                .is_some()
        {
            continue;
        }
        let mut team_ids = Vec::new();
        for team in &invitation.teams {
            team_ids.push(team_id(store, organization, team).await?);
        }
        invite(
            store,
            organization,
            username,
            roles(&invitation.roles)?,
            team_ids,
            now,
        )
        .await?;
    }
    Ok(())
}

async fn team_id(
    store: &Arc<dyn Store>,
    organization: &Organization,
    name: &str,
) -> anyhow::Result<TeamId> {
    let name = TeamName::parse(name.to_owned())?;
    Ok(store
        .find_team_by_name(&organization.id, &name)
        .await?
        .with_context(|| format!("no team {} in the organization", name.as_str()))?
        .id)
}

async fn is_member(
    store: &Arc<dyn Store>,
    organization: &Organization,
    username: &orgdoor_domain::EmailAddress,
) -> anyhow::Result<bool> {
    Ok(store
        .find_user(&UserSelector::Username(username.clone()))
        .await?
        .is_some_and(|(_, memberships)| {
            memberships
                .iter()
                .any(|member| member.org_id == organization.id)
        }))
}

async fn pending_invitation(
    store: &Arc<dyn Store>,
    organization: &Organization,
    username: &orgdoor_domain::EmailAddress,
    now: OffsetDateTime,
) -> anyhow::Result<Option<orgdoor_domain::Invitation>> {
    Ok(store
        .get_organization_with_pending_invitations(&organization.id, Some(username), now)
        .await?
        .and_then(|(_, invitations)| invitations.into_iter().next()))
}

async fn invite(
    store: &Arc<dyn Store>,
    organization: &Organization,
    username: &orgdoor_domain::EmailAddress,
    roles: OrgRoles,
    team_ids: Vec<TeamId>,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let invitation = NewInvitation {
        org_id: organization.id.clone(),
        username: username.clone(),
        roles,
        team_ids,
        group_role_assignments: Vec::<GroupRoleAssignment>::new(),
        inviter_username: SEEDER.to_owned(),
    }
    .into_invitation(now);
    store
        .invite(&invitation, WhenPending::Refuse, None, now)
        .await?;
    Ok(())
}
