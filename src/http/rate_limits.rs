//! Rate limits as Atlas applies them (BEHAVIOR §7): a token bucket per endpoint set and scope
//! (the organization or project in the path, or the caller), kept in the store so every
//! instance counts against the same bucket. Responses carry `RateLimit-Limit` and
//! `RateLimit-Remaining`; an empty bucket answers 429 `RATE_LIMITED_TOKEN_BUCKET` with
//! `Retry-After`.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use orgdoor_domain::{GroupId, OrgId, TokenBucket};

use crate::auth::Principal;
use crate::config::RateLimitPolicy;
use crate::error::AppError;
use crate::state::AppState;

/// What a bucket is kept per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Organization,
    Group,
    User,
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

/// The path segment after `/{collection}/`: the organization or project a request is about.
fn segment_after<'a>(path: &'a str, collection: &str) -> Option<&'a str> {
    let start = path.find(collection)? + collection.len();
    path[start..]
        .split('/')
        .next()
        .filter(|segment| !segment.is_empty())
}

/// The bucket a request is charged to. Buckets are keyed only by well-formed ids, and a caller
/// is never charged to another tenant's bucket: a request about an organization that is not
/// the caller's own, or about no well-formed one, costs the caller's own organization. Project
/// buckets are kept per (caller's organization, project): every caller that may use a project
/// belongs to its organization, so they share one, while callers from elsewhere cannot drain
/// it. Unauthenticated requests never reach here.
fn scope_key(set: &EndpointSet, request: &Request) -> Option<String> {
    let principal = request.extensions().get::<Principal>()?;
    let own = &principal.organization.id;
    let path = request.uri().path();
    let key = match set.scope {
        Scope::Organization => match segment_after(path, "/orgs/").map(str::parse::<OrgId>) {
            Some(Ok(target)) if target == *own => target.to_string(),
            _ => own.to_string(),
        },
        Scope::Group => match segment_after(path, "/groups/").map(str::parse::<GroupId>) {
            Some(Ok(group)) => format!("{own}/{group}"),
            _ => own.to_string(),
        },
        Scope::User => principal.username().to_owned(),
    };
    Some(key)
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
    let Some(key) = scope_key(set, &request) else {
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

/// Counts `routes` against `set`'s buckets.
pub fn limited(
    routes: MethodRouter<AppState>,
    state: &AppState,
    set: &'static EndpointSet,
) -> MethodRouter<AppState> {
    routes.route_layer(middleware::from_fn_with_state((state.clone(), set), limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_the_id_after_its_collection() {
        assert_eq!(
            segment_after("/api/atlas/v2/orgs/abc/invites", "/orgs/"),
            Some("abc")
        );
        assert_eq!(
            segment_after("/api/atlas/v2/groups/g1", "/groups/"),
            Some("g1")
        );
        assert_eq!(segment_after("/api/atlas/v2/orgs", "/orgs/"), None);
    }
}
