//! The ceiling: the least a server can do to answer the benchmark's list request — axum on the
//! same runtime, a fixed body of three invitations, no authentication, no store.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const BODY: &str = concat!(
    "[",
    r#"{"createdAt":"2026-08-10T03:03:37Z","expiresAt":"2026-09-09T03:03:37Z","groupRoleAssignments":[],"id":"6a793f893c6ed3e96c7897c1","inviterUsername":"bstewnhp","orgId":"6a793f893c6ed3e96c7897be","orgName":"Bench","roles":["ORG_MEMBER"],"teamIds":[],"username":"a@example.com"},"#,
    r#"{"createdAt":"2026-08-10T03:03:37Z","expiresAt":"2026-09-09T03:03:37Z","groupRoleAssignments":[],"id":"6a793f893c6ed3e96c7897c2","inviterUsername":"bstewnhp","orgId":"6a793f893c6ed3e96c7897be","orgName":"Bench","roles":["ORG_MEMBER"],"teamIds":[],"username":"b@example.com"},"#,
    r#"{"createdAt":"2026-08-10T03:03:37Z","expiresAt":"2026-09-09T03:03:37Z","groupRoleAssignments":[],"id":"6a793f893c6ed3e96c7897c3","inviterUsername":"bstewnhp","orgId":"6a793f893c6ed3e96c7897be","orgName":"Bench","roles":["ORG_MEMBER"],"teamIds":[],"username":"c@example.com"}"#,
    "]"
);

async fn invites() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.atlas.2023-01-01+json;charset=utf-8",
        )],
        BODY,
    )
}

/// Serves until killed; prints `listening on ADDR` first.
pub(crate) async fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let app = Router::new().route("/api/atlas/v2/orgs/{orgId}/invites", get(invites));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
