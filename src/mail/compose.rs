//! An invitation's message: plain text and HTML from the templates in `templates/mail`, with a
//! link that carries a fresh token. The HTML escapes everything it shows.

use askama::Template;
use orgdoor_domain::{
    Group, Invitation, InvitationLetter, LinkToken, MessageId, NewMessage, Organization,
};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::PublicUrl;

/// Where an invitation's message invites its reader.
#[derive(Clone, Copy)]
pub enum InvitationNotice<'a> {
    /// Into an organization (the invitations and org-users APIs).
    Organization(&'a Organization),
    /// Into a project (`/groups/{groupId}/invites` and `…/users`).
    Project(&'a Group),
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct TextPart<'a> {
    mail: &'a Fields,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct HtmlPart<'a> {
    mail: &'a Fields,
}

/// What both parts show.
struct Fields {
    subject: String,
    inviter: String,
    /// "the organization" or "the project".
    what: &'static str,
    name: String,
    roles: Vec<String>,
    expires: String,
    accept_url: String,
}

/// Composes the message for `invitation` into what `notice` names, with a new link under
/// `public_url`: the letter the store writes with the invitation.
pub fn invitation_letter(
    public_url: &PublicUrl,
    notice: InvitationNotice<'_>,
    invitation: &Invitation,
    now: OffsetDateTime,
) -> InvitationLetter {
    let token = LinkToken::generate();
    let accept_url = public_url.invitation_link(&token);
    let (what, name, project) = match notice {
        InvitationNotice::Project(project) => {
            ("the project", project.name.to_string(), Some(project))
        }
        InvitationNotice::Organization(organization) => {
            ("the organization", organization.name.to_string(), None)
        }
    };
    let fields = Fields {
        subject: format!("Invitation to join {what} {name}"),
        inviter: invitation.inviter_username.clone(),
        what,
        name,
        roles: offered_roles(
            invitation,
            &project.cloned().into_iter().collect::<Vec<_>>(),
        ),
        expires: expiry(invitation.expires_at),
        accept_url: accept_url.clone(),
    };
    // Rendering into a `String` fails only if a `Display` impl does; ours do not.
    let text = TextPart { mail: &fields }
        .render()
        .unwrap_or_else(|_| fields.accept_url.clone());
    let html = HtmlPart { mail: &fields }
        .render()
        .unwrap_or_else(|_| fields.accept_url.clone());
    InvitationLetter {
        link: token.hash(),
        message: NewMessage {
            id: MessageId::generate(now),
            to: invitation.username.clone(),
            subject: fields.subject,
            text,
            html,
            accept_url,
        },
    }
}

/// The roles an invitation offers, one line each: organization roles, then project roles (by
/// name for the `projects` given, else by id), then teams.
pub fn offered_roles(invitation: &Invitation, projects: &[Group]) -> Vec<String> {
    let org_roles = invitation
        .roles
        .iter()
        .map(|role| format!("{} in the organization", role.as_str()));
    let project_roles = invitation.group_role_assignments.iter().map(|assignment| {
        let role = assignment.role.as_str();
        match projects
            .iter()
            .find(|project| project.id == assignment.group_id)
        {
            Some(project) => format!("{role} in the project {}", project.name),
            None => format!("{role} in the project {}", assignment.group_id),
        }
    });
    let teams = invitation
        .team_ids
        .iter()
        .map(|team| format!("membership of the team {team}"));
    org_roles.chain(project_roles).chain(teams).collect()
}

/// An instant as messages and pages show it: UTC, to the minute.
pub fn expiry(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(hostile: &str) -> Fields {
        Fields {
            subject: format!("Invitation to join the organization {hostile}"),
            inviter: hostile.to_owned(),
            what: "the organization",
            name: hostile.to_owned(),
            roles: vec![format!("{hostile} in the organization")],
            expires: "2026-09-09 03:03 UTC".into(),
            accept_url: "http://127.0.0.1:8080/invitations/ab".into(),
        }
    }

    #[test]
    fn the_html_part_shows_markup_as_text_and_the_text_part_as_is() {
        let hostile = "<script>alert('x')</script>&\"";
        let mail = fields(hostile);
        let html = HtmlPart { mail: &mail }.render().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(&#39;x&#39;)"),
            "{html}"
        );
        assert!(html.contains("<a href=\"http://127.0.0.1:8080/invitations/ab\">"));
        let text = TextPart { mail: &mail }.render().unwrap();
        assert!(text.contains(hostile), "{text}");
        assert!(text.contains("  - <script>alert('x')</script>&\" in the organization"));
    }
}
