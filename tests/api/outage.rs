//! The database goes away under a running server: requests get a prompt Atlas 503, and the
//! server recovers by itself when the database returns.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orgdoor_test_db::TestDatabase;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::{TestApp, TestResponse, spawn_app_at};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    /// Every connection, open or new, is closed at once: a database that refuses.
    Cut,
    /// Connections stay open but nothing goes through, new ones too: a database (or network)
    /// that hangs. When the hang ends, the connections held during it are closed.
    Hung,
}

/// A TCP proxy to the database whose link can be cut or made to hang.
struct CuttableProxy {
    address: SocketAddr,
    link: watch::Sender<Link>,
}

impl CuttableProxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (link, watcher) = watch::channel(Link::Up);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut watcher = watcher.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let link = *watcher.borrow_and_update();
                    match link {
                        Link::Cut => return, // dropped: closed at once
                        Link::Hung => {
                            // Held, unanswered, until the hang ends; then closed.
                            let _ = watcher.wait_for(|link| *link != Link::Hung).await;
                            return;
                        }
                        Link::Up => {}
                    }
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watcher.wait_for(|link| *link != Link::Up) => {}
                    }
                    // Cut: both sides close now. Hung: both stay open, silent, until it ends.
                    let link = *watcher.borrow();
                    if link == Link::Hung {
                        let _ = watcher.wait_for(|link| *link != Link::Hung).await;
                    }
                });
            }
        });
        Self { address, link }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    fn set_cut(&self, cut: bool) {
        self.set(if cut { Link::Cut } else { Link::Up });
    }
}

/// `host:port` of a postgres URL, and the URL with that authority replaced.
fn through(url: &str, proxy: SocketAddr) -> (String, String) {
    let start = url.find('@').unwrap() + 1;
    let end = start + url[start..].find('/').unwrap();
    let target = url[start..end].to_owned();
    (target, format!("{}{proxy}{}", &url[..start], &url[end..]))
}

/// A fresh PostgreSQL database, a proxy to it that can be cut, and the database's URL through
/// the proxy.
async fn proxied_postgres() -> (TestDatabase, CuttableProxy, String) {
    let database = TestDatabase::postgres().await;
    let (target, _) = through(&database.url, "127.0.0.1:1".parse().unwrap());
    let proxy = CuttableProxy::start(target).await;
    let (_, proxied_url) = through(&database.url, proxy.address);
    (database, proxy, proxied_url)
}

/// The invitations, listed again and again until that succeeds or `limit` passes.
async fn invites_once_recovered(app: &TestApp, limit: Duration) -> TestResponse {
    let deadline = Instant::now() + limit;
    loop {
        let response = app.owner().get(&app.invites_path()).await;
        if response.status == 200 || Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn postgres_outage_gives_prompt_503s_and_the_server_recovers_by_itself() {
    let (database, proxy, proxied_url) = proxied_postgres().await;
    let app = spawn_app_at(database, &proxied_url).await;
    let client = app.owner();
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(created.status, 200);
    assert_eq!(app.health().await.status(), 200);

    proxy.set_cut(true);
    for _ in 0..3 {
        let started = Instant::now();
        let refused = client.get(&app.invites_path()).await;
        refused.assert_error(503, "SERVICE_UNAVAILABLE");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }
    let health = app.health().await;
    assert_eq!(health.status(), 503);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["database"],
        "unreachable"
    );

    proxy.set_cut(false);
    let listed = invites_once_recovered(&app, Duration::from_secs(20)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json[0]["id"], created.json["id"], "nothing was lost");
    assert_eq!(app.health().await.status(), 200);
}

/// The database hangs instead of refusing: connections are accepted and nothing comes back.
/// Every request, writes included, is answered 503 within the request timeout (here 2 s),
/// `/health` says so within its own bound, nothing is half-written, and the server recovers by
/// itself once the database answers again.
#[tokio::test]
async fn postgres_that_hangs_bounds_every_request_and_the_server_recovers() {
    let (database, proxy, proxied_url) = proxied_postgres().await;
    let limits = orgdoor::transport::ConnectionLimits {
        request_timeout: Duration::from_secs(2),
        ..orgdoor::transport::ConnectionLimits::default()
    };
    let app = crate::harness::spawn_adjusted_at(database, &proxied_url, |app| {
        app.with_connection_limits(limits)
    })
    .await;
    let created = app.invite("before@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(created.status, 200);

    proxy.set(Link::Hung);
    let app = &app;
    let writes = (0..6).map(|n| async move {
        let client = app.owner();
        let started = Instant::now();
        let response = client
            .post(
                &app.invites_path(),
                &serde_json::json!({"username": format!("during-{n}@example.com"), "roles": ["ORG_MEMBER"]}),
            )
            .await;
        (response, started.elapsed())
    });
    for (response, took) in futures_util::future::join_all(writes).await {
        response.assert_error(503, "SERVICE_UNAVAILABLE");
        assert!(took < Duration::from_secs(6), "a write waited {took:?}");
    }
    let started = Instant::now();
    let health = app.health().await;
    assert_eq!(health.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(4));

    proxy.set(Link::Up);
    let listed = invites_once_recovered(app, Duration::from_secs(30)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    // Whatever the hung writes did, each is whole: invitations with every field, no duplicates.
    let invitations = listed.json.as_array().unwrap();
    assert!(invitations.iter().any(|i| i["id"] == created.json["id"]));
    for invitation in invitations {
        assert_eq!(invitation["roles"], serde_json::json!(["ORG_MEMBER"]));
    }
    let after = app.invite("after@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(after.status, 200, "{}", after.text);
}
