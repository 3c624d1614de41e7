//! Rate limits as Atlas applies them (BEHAVIOR §7): a token bucket per endpoint set and scope
//! (the caller's organization, a project of it that the path names, or the caller), kept in the
//! store so every instance counts against the same bucket. Responses carry `RateLimit-Limit` and
//! `RateLimit-Remaining`; an empty bucket answers 429 `RATE_LIMITED_TOKEN_BUCKET` with
//! `Retry-After`.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use orgdoor_domain::{GroupId, TokenBucket};

use crate::auth::Principal;
use crate::config::RateLimitPolicy;
use crate::error::AppError;
use crate::http::scope::group_in_path;
use crate::state::AppState;

/// What a bucket is kept per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Group,
    User,
}

impl Scope {
    /// How metrics name it.
    fn label(self) -> &'static str {
        match self {
            Scope::Organization => "organization",
            Scope::Group => "group",
            Scope::User => "user",
        }
    }
}

/// An endpoint set of Atlas's rate-limit table.
#[derive(Debug)]
pub struct EndpointSet {
    /// The resource named in the 429 message.
    pub resource: &'static str,
    pub scope: Scope,
    pub limits: TokenBucket,
}

const fn set(resource: &'static str, scope: Scope, capacity: i64, refill: i64) -> EndpointSet {
    EndpointSet {
        resource,
        scope,
        limits: TokenBucket {
            capacity,
            refill,
            period_seconds: 60,
        },
    }
}

/// `/orgs/{orgId}`, its invitations and projects.
pub static ORGANIZATIONS: EndpointSet = set("api/atlas/v2/orgs", Scope::Organization, 500, 250);
/// `GET/POST /orgs`, per caller.
pub static ORGANIZATIONS_BY_CALLER: EndpointSet = set("api/atlas/v2/orgs", Scope::User, 300, 100);
pub static ORG_USERS: EndpointSet = set("api/atlas/v2/orgs/users", Scope::Organization, 500, 250);
/// `/users/{userId}`, `/users/byName/{userName}`, per caller.
pub static USERS_BY_CALLER: EndpointSet = set("api/atlas/v2/users", Scope::User, 2500, 2000);
pub static TEAMS: EndpointSet = set("api/atlas/v2/orgs/teams", Scope::Organization, 1200, 500);
pub static API_KEYS: EndpointSet = set("api/atlas/v2/orgs/apiKeys", Scope::Organization, 500, 250);
pub static SERVICE_ACCOUNTS: EndpointSet = set(
    "api/atlas/v2/orgs/serviceAccounts",
    Scope::Organization,
    500,
    250,
);
/// `/groups/{groupId}…`, project invitations included.
pub static PROJECTS: EndpointSet = set("api/atlas/v2/groups", Scope::Group, 1200, 500);
/// `GET/POST /groups`, per caller.
pub static PROJECTS_BY_CALLER: EndpointSet = set("api/atlas/v2/groups", Scope::User, 1200, 500);

/// The bucket a request is charged to. Buckets are keyed only by well-formed ids, and a caller
/// is never charged to another tenant's bucket. An organization bucket is always the caller's
/// own organization's: a request about another organization (which the caller cannot use) or
/// about none costs its own. Project buckets are kept per (caller's organization, `group`):
/// every caller that may use a project belongs to its organization, so they share one, while
/// callers from elsewhere cannot drain it; a request naming no well-formed project costs the
/// caller's organization.
fn bucket_key(set: &EndpointSet, principal: &Principal, group: Option<&GroupId>) -> String {
    let own = principal.org_id();
    match (set.scope, group) {
        (Scope::Organization, _) | (Scope::Group, None) => own.to_string(),
        (Scope::Group, Some(group)) => format!("{own}/{group}"),
        (Scope::User, _) => principal.username().to_owned(),
    }
}

/// How often each instance deletes buckets that have been idle long enough to be full again.
pub const IDLE_BUCKET_SWEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes idle buckets every [`IDLE_BUCKET_SWEEP`], for as long as it runs.
pub async fn sweep_idle_buckets(state: AppState) {
    let mut ticks = tokio::time::interval(IDLE_BUCKET_SWEEP);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state
            .store
            .delete_idle_rate_limit_buckets(state.clock.now())
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::debug!(deleted, "idle rate-limit buckets deleted"),
            Err(error) => tracing::warn!(%error, "deleting idle rate-limit buckets failed"),
        }
    }
}

async fn limit(
    State((state, set)): State<(AppState, &'static EndpointSet)>,
    request: Request,
    next: Next,
) -> Response {
    let limits = match state.rate_limits {
        RateLimitPolicy::Off => return next.run(request).await,
        RateLimitPolicy::Atlas => set.limits,
        RateLimitPolicy::Capacity(tokens) => TokenBucket {
            capacity: tokens,
            refill: tokens,
            ..set.limits
        },
    };
    let (mut parts, body) = request.into_parts();
    // The project as `GroupScope` will read it: the path's `{groupId}`.
    let group = match set.scope {
        Scope::Group => group_in_path(&mut parts).await,
        Scope::Organization | Scope::User => None,
    };
    // Unauthenticated requests never reach here.
    let key = Principal::of(&parts.extensions)
        .ok()
        .map(|principal| bucket_key(set, principal, group.as_ref()));
    let request = Request::from_parts(parts, body);
    let Some(key) = key else {
        return next.run(request).await;
    };
    let bucket = format!("{}:{:?}:{key}", set.resource, set.scope);
    let outcome = match state
        .store
        .take_rate_limit_token(&bucket, limits, state.clock.now())
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => return AppError::from(error).into_response(),
    };
    let mut response = if outcome.allowed {
        next.run(request).await
    } else {
        crate::metrics::record_rate_limited(set.scope.label());
        let mut refused = AppError::RateLimited {
            resource: set.resource,
            retry_after: outcome.retry_after,
            capacity: limits.capacity,
            refill: limits.refill,
            period: limits.period_seconds,
        }
        .into_response();
        refused
            .headers_mut()
            .insert("retry-after", HeaderValue::from(outcome.retry_after));
        crate::transport::answer_early(request, refused).await
    };
    // Atlas leaves the headers off 401s and 404s (observed).
    if !matches!(response.status().as_u16(), 401 | 404) {
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", HeaderValue::from(limits.capacity));
        headers.insert("ratelimit-remaining", HeaderValue::from(outcome.remaining));
    }
    response
}

/// Counts `routes` against `set`'s buckets. Without limits (the policy is fixed when the
/// router is built) there is no layer at all: a layer clones and boxes its route on every
/// request, even one that only passes the request on.
pub fn limited(
    routes: MethodRouter<AppState>,
    state: &AppState,
    set: &'static EndpointSet,
) -> MethodRouter<AppState> {
    if state.rate_limits == RateLimitPolicy::Off {
        return routes;
    }
    routes.route_layer(middleware::from_fn_with_state((state.clone(), set), limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgdoor_domain::OrgRole;

    fn caller() -> Principal {
        Principal::test_api_key(&[OrgRole::Owner])
    }

    #[test]
    fn buckets_are_the_callers_organization_its_projects_or_itself() {
        let caller = caller();
        let own = caller.org_id().to_string();
        let group: GroupId = "0123456789abcdef01234567".parse().expect("id");
        assert_eq!(bucket_key(&ORGANIZATIONS, &caller, None), own);
        assert_eq!(bucket_key(&PROJECTS, &caller, None), own);
        assert_eq!(
            bucket_key(&PROJECTS, &caller, Some(&group)),
            format!("{own}/{group}")
        );
        assert_eq!(
            bucket_key(&PROJECTS_BY_CALLER, &caller, Some(&group)),
            caller.username()
        );
    }
}
