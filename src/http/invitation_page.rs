//! The invitee's page: `GET {public-url}invitations/{token}`, the link in an invitation's
//! message, shows what the invitation offers with a form to accept (asking first and last name
//! of someone with no account yet) or decline; `POST` to the same address answers it — the same
//! store use case as orgdoor's accept hook — and shows the outcome.
//!
//! Server-side HTML (askama templates in `templates/page`, which escape everything they show),
//! no JavaScript. Unknown, cancelled, replaced and used links are 404 pages, expired and declined
//! invitations 410 pages. A form counts only with the cookie the page set and the HMAC of it
//! in the form (`security::csrf`); the cookie is `SameSite=Lax`, so following the link again
//! from a mail client keeps it (and an open form working), while no other site can post with it. Unknown links and forged forms are throttled per address like
//! failed credentials; every answer forbids caching, framing, scripts and `Referer` (the link
//! is the secret).

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orgdoor_domain::{
    Actor, ActorCredential, InvalidProfile, LinkToken, LinkTokenHash, ProfileChoices,
};
use orgdoor_store::audit::{AuditContext, acting_as};
use orgdoor_store::{
    InvitationAnswer, InvitationSelector, LinkedInvitation, Rejection, StoreError,
};
use serde::Deserialize;

use crate::mail::{expiry, offered_roles};
use crate::security::csrf::CsrfGuard;
use crate::security::failures::Scheme;
use crate::state::AppState;

/// The cookie the form's token is bound to.
const CSRF_COOKIE: &str = "orgdoor_csrf";
/// Largest form accepted: two names and a token.
const MAX_FORM_BYTES: usize = 8 * 1024;
/// What every page forbids: scripts, framing, other origins, and leaking the link.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/invitations/{token}", get(show).post(answer))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
}

#[derive(Template)]
#[template(path = "page/invitation.html")]
struct InvitationPage<'a> {
    organization: &'a str,
    projects: Vec<String>,
    inviter: &'a str,
    invitee: &'a str,
    roles: Vec<String>,
    expires: String,
    csrf: String,
    ask_names: bool,
    first_name: &'a str,
    last_name: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "page/notice.html")]
struct NoticePage<'a> {
    heading: &'a str,
    message: &'a str,
}

/// A page with its status and, for a form page, the cookie to set.
struct Page {
    status: StatusCode,
    html: String,
    cookie: Option<String>,
}

impl Page {
    fn notice(status: StatusCode, heading: &str, message: &str) -> Self {
        Self {
            status,
            html: render(&NoticePage { heading, message }),
            cookie: None,
        }
    }

    fn not_found() -> Self {
        Self::notice(
            StatusCode::NOT_FOUND,
            "This invitation link is not valid",
            "The invitation may have been answered or cancelled already, or a newer message \
             replaced this link. Ask whoever invited you to send the invitation again.",
        )
    }

    fn expired() -> Self {
        Self::notice(
            StatusCode::GONE,
            "This invitation has expired",
            "Invitations can be accepted for 30 days. Ask whoever invited you to send it again.",
        )
    }

    fn declined() -> Self {
        Self::notice(
            StatusCode::GONE,
            "This invitation was declined",
            "It can no longer be accepted. Ask whoever invited you to send a new one.",
        )
    }

    fn throttled() -> Self {
        Self::notice(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many invalid invitation links or forms came from your address. Try again in a \
             minute.",
        )
    }

    fn unavailable() -> Self {
        Self::notice(
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again",
            "The invitation could not be read just now. Try again in a moment.",
        )
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.html).into_response();
        let headers = response.headers_mut();
        let fixed = [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        for (name, value) in fixed {
            headers.insert(name, HeaderValue::from_static(value));
        }
        if let Some(cookie) = self
            .cookie
            .and_then(|cookie| HeaderValue::from_str(&cookie).ok())
        {
            headers.insert(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// Templates render into a `String`; only a failing `Display` impl could fail, and ours don't.
fn render(template: &impl Template) -> String {
    template.render().unwrap_or_default()
}

/// What the form sends.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    csrf: String,
    first_name: Option<String>,
    last_name: Option<String>,
}

/// The link's invitation, or the page that says why there is none; failures count against the
/// address.
async fn linked_invitation(
    state: &AppState,
    raw_token: &str,
    peer: SocketAddr,
) -> Result<(LinkTokenHash, LinkedInvitation), Page> {
    let now = state.clock.now();
    let peer = Some(peer.ip());
    if state
        .failures
        .check(Scheme::InvitationLink, "link", peer, now)
        .is_err()
    {
        return Err(Page::throttled());
    }
    let failed = || {
        state
            .failures
            .record_failure(Scheme::InvitationLink, "link", peer, now);
        Page::not_found()
    };
    let link = LinkToken::parse(raw_token).ok_or_else(failed)?.hash();
    let linked = state
        .store
        .find_invitation_by_link(&link)
        .await
        .map_err(|error| store_failure(&error))?
        .ok_or_else(failed)?;
    if linked.invitation.declined_at.is_some() {
        return Err(Page::declined());
    }
    if linked.invitation.is_expired(now) {
        return Err(Page::expired());
    }
    Ok((link, linked))
}

fn store_failure(error: &StoreError) -> Page {
    tracing::error!(%error, "reading an invitation for its page failed");
    Page::unavailable()
}

/// The request's CSRF cookie, if it has a well-formed one.
fn csrf_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value)
        .find(|value| CsrfGuard::is_cookie(value))
}

/// The form page, with `form`'s names kept and `error` shown when it was sent back.
fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    link: &LinkTokenHash,
    linked: &LinkedInvitation,
    form: &AnswerForm,
    error: Option<&str>,
) -> Page {
    let (cookie, set_cookie) = match csrf_cookie(headers) {
        Some(cookie) => (cookie.to_owned(), None),
        None => {
            let cookie = CsrfGuard::new_cookie();
            let secure = if state.public_url.as_str().starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let header = format!("{CSRF_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax{secure}");
            (cookie, Some(header))
        }
    };
    let invitation = &linked.invitation;
    let page = InvitationPage {
        organization: linked.organization.name.as_str(),
        projects: linked
            .projects
            .iter()
            .map(|project| project.name.to_string())
            .collect(),
        inviter: &invitation.inviter_username,
        invitee: invitation.username.as_str(),
        roles: offered_roles(invitation, &linked.projects),
        expires: expiry(invitation.expires_at),
        csrf: state.csrf.form_token(&cookie, link.as_str()),
        ask_names: !linked.has_account,
        first_name: form.first_name.as_deref().unwrap_or_default(),
        last_name: form.last_name.as_deref().unwrap_or_default(),
        error,
    };
    Page {
        status: if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        html: render(&page),
        cookie: set_cookie,
    }
}

async fn show(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Page {
    match linked_invitation(&state, &token, peer).await {
        Ok((link, linked)) => form_page(
            &state,
            &headers,
            &link,
            &linked,
            &AnswerForm::default(),
            None,
        ),
        Err(page) => page,
    }
}

async fn answer(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let (link, linked) = match linked_invitation(&state, &token, peer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let form: AnswerForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let forged = csrf_cookie(&headers)
        .is_none_or(|cookie| !state.csrf.verify(cookie, link.as_str(), &form.csrf));
    if forged {
        let now = state.clock.now();
        state
            .failures
            .record_failure(Scheme::InvitationLink, "link", Some(peer.ip()), now);
        return Page::notice(
            StatusCode::FORBIDDEN,
            "Please use the invitation page",
            "This answer did not come from the invitation page, or the page was open too \
             long. Open the link in your invitation again.",
        );
    }
    let answer = match form.action.as_str() {
        "decline" => InvitationAnswer::Decline,
        "accept" => match profile(&linked, &form) {
            Ok(profile) => InvitationAnswer::Accept(profile),
            Err(error) => {
                return form_page(&state, &headers, &link, &linked, &form, Some(&error));
            }
        },
        _ => {
            let error = "Choose Accept or Decline.";
            return form_page(&state, &headers, &link, &linked, &form, Some(error));
        }
    };
    let accepted = matches!(answer, InvitationAnswer::Accept(_));
    let now = state.clock.now();
    // The invitee answers for themselves: the event names them.
    let invitee = AuditContext {
        actor: Actor {
            credential: ActorCredential::User {
                user_id: linked.invitation.user_id.clone(),
                username: linked.invitation.username.clone(),
            },
            remote_address: Some(peer.ip().to_canonical()),
        },
        at: now,
    };
    let selector = InvitationSelector::Link(link);
    let answered = acting_as(
        invitee,
        state
            .store
            .answer_invitation(&linked.organization.id, &selector, answer, now),
    )
    .await;
    let organization = linked.organization.name.as_str();
    match answered {
        Ok(_) if accepted => Page::notice(
            StatusCode::OK,
            &format!("Welcome to {organization}"),
            "You are now a member of the organization, with the roles the invitation offered.",
        ),
        Ok(_) => Page::notice(
            StatusCode::OK,
            "Invitation declined",
            &format!("You declined the invitation to {organization}. Nothing more will happen."),
        ),
        Err(StoreError::Rejected(Rejection::InvitationExpired)) => Page::expired(),
        Err(StoreError::Rejected(Rejection::TeamFull(_))) => Page::notice(
            StatusCode::CONFLICT,
            "This invitation cannot be accepted now",
            "A team it offers you a place in is full. Ask whoever invited you to make room or \
             to change the invitation.",
        ),
        Err(StoreError::Rejected(
            Rejection::InvitationNotFound(_) | Rejection::UsernameTaken(_),
        )) => Page::not_found(),
        Err(error) => store_failure(&error),
    }
}

/// The profile an accept carries: names are required of someone with no account yet.
fn profile(linked: &LinkedInvitation, form: &AnswerForm) -> Result<ProfileChoices, String> {
    let given = |name: &Option<String>| {
        name.as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
    };
    let (first_name, last_name) = (given(&form.first_name), given(&form.last_name));
    if !linked.has_account && (first_name.is_none() || last_name.is_none()) {
        return Err("Please give your first and last name to accept.".into());
    }
    ProfileChoices::new(first_name, last_name, None, None).map_err(|error| match error {
        InvalidProfile::Name(field) => {
            let field = if field == "firstName" {
                "first"
            } else {
                "last"
            };
            format!("Your {field} name must be 1 to 256 characters, without control characters.")
        }
        other => other.to_string(),
    })
}
