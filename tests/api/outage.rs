//! The database goes away under a running server: requests get a prompt Atlas 503, and the
//! server recovers by itself when the database returns.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use orgdoor_test_db::TestDatabase;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::spawn_app_at;

/// A TCP proxy whose connections can be cut: while cut, it closes every connection, open or new.
struct CuttableProxy {
    address: SocketAddr,
    cut: watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (cut, watcher) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut watcher = watcher.clone();
                if *watcher.borrow() {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watcher.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { address, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

/// `host:port` of a postgres URL, and the URL with that authority replaced.
fn through(url: &str, proxy: SocketAddr) -> (String, String) {
    let start = url.find('@').unwrap() + 1;
    let end = start + url[start..].find('/').unwrap();
    let target = url[start..end].to_owned();
    (target, format!("{}{proxy}{}", &url[..start], &url[end..]))
}

#[tokio::test]
async fn postgres_outage_gives_prompt_503s_and_the_server_recovers_by_itself() {
    let database = TestDatabase::postgres().await;
    let (target, _) = through(&database.url, "127.0.0.1:1".parse().unwrap());
    let proxy = CuttableProxy::start(target).await;
    let (_, proxied_url) = through(&database.url, proxy.address);
    let app = spawn_app_at(database, &proxied_url).await;
    let client = app.owner();
    let created = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(created.status, 200);
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{}/health", app.base_url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

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
    let health = http
        .get(format!("{}/health", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["database"],
        "unreachable"
    );

    proxy.set_cut(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let response = client.get(&app.invites_path()).await;
        if response.status == 200 || Instant::now() > deadline {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json[0]["id"], created.json["id"], "nothing was lost");
    assert_eq!(
        http.get(format!("{}/health", app.base_url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
