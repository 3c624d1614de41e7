//! Delivery of the outbox over SMTP, to a real SMTP server (`tests/mail/smtp_sink.py`, on
//! aiosmtpd) that writes what it accepts to a folder: messages arrive as text and HTML with the
//! link, an outage loses nothing and delivery resumes by itself, a permanent refusal is given
//! up, and several instances on one store deliver each message once.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use orgdoor::config::{DeliverySettings, SmtpUrl};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{TestApp, free_port, spawn_app_with};
use orgdoor_test_db::Backend;

on_both_stores!(
    invitations_are_delivered_over_smtp_as_text_and_html,
    starttls_and_implicit_tls_are_spoken_and_the_certificate_checked,
    an_smtp_outage_loses_nothing_and_delivery_resumes_by_itself,
    a_cancelled_invitations_message_is_withdrawn_not_sent,
    a_permanent_refusal_is_given_up_at_once,
    a_server_that_never_answers_is_given_up_on_within_the_timeout,
    several_instances_deliver_each_message_once,
);

/// How long a test waits for delivery before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// The SMTP server under test's control: started, stopped and started again on one port.
struct SmtpSink {
    port: u16,
    folder: tempfile::TempDir,
    process: Option<Child>,
    /// `CERT KEY starttls|implicit` for TLS, else nothing.
    tls: Vec<String>,
}

impl SmtpSink {
    async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    async fn start_with(tls: Vec<String>) -> Self {
        let mut sink = Self {
            port: free_port(),
            folder: tempfile::tempdir().expect("a folder"),
            process: None,
            tls,
        };
        sink.resume().await;
        sink
    }

    /// Starts the server again (on the same port, into the same folder).
    async fn resume(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.folder.path())
            .args(&self.tls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the SMTP sink (scripts/test installs aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the SMTP sink starts in time")
            .expect("its output reads");
        assert_eq!(ready.as_deref(), Some("ready"), "is aiosmtpd installed?");
        self.process = Some(child);
    }

    /// Kills the server: connections are refused until it resumes.
    async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().await.expect("the sink stops");
        }
    }

    fn url(&self) -> SmtpUrl {
        SmtpUrl::new(format!("smtp://127.0.0.1:{}", self.port))
    }

    /// What the server has accepted so far.
    #[expect(
        clippy::disallowed_methods,
        reason = "a test reading the sink's folder"
    )]
    fn received(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.folder.path())
            .expect("the folder reads")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                serde_json::from_str(&std::fs::read_to_string(path).expect("a message"))
                    .expect("JSON")
            })
            .collect()
    }
}

/// Delivery settings for tests: look at the outbox often, retry after a second.
fn delivery_to(sink: &SmtpSink) -> DeliverySettings {
    DeliverySettings {
        smtp: Some(sink.url()),
        from: "Orgdoor Tests <invitations@orgdoor.test>".into(),
        poll_interval: Duration::from_millis(100),
        retry_initial: time::Duration::seconds(1),
        ..DeliverySettings::default()
    }
}

async fn app_delivering_to(backend: Backend, sink: &SmtpSink) -> TestApp {
    let delivery = delivery_to(sink);
    spawn_app_with(backend, |app| {
        app.with_delivery(delivery).expect("delivery settings")
    })
    .await
}

/// Waits until `ready` holds of the outbox's messages; returns them.
async fn outbox_when(app: &TestApp, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let messages = app.outbox("?itemsPerPage=500").await.json["results"]
            .as_array()
            .expect("results")
            .clone();
        if ready(&messages) {
            return messages;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never got there: {messages:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn all_have_status(messages: &[Value], count: usize, status: &str) -> bool {
    messages.len() == count && messages.iter().all(|message| message["status"] == status)
}

async fn invitations_are_delivered_over_smtp_as_text_and_html(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_delivering_to(backend, &sink).await;
    let invited = app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    assert_eq!(invited.status, 200, "{}", invited.text);

    let messages = outbox_when(&app, |m| all_have_status(m, 1, "DELIVERED")).await;
    let message = &messages[0];
    assert_eq!(message["attempts"], 1);
    assert_eq!(message["deliveredAt"], "2026-08-10T03:03:37Z");
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let mail = &received[0];
    assert_eq!(mail["rcptTos"], serde_json::json!(["ada@example.com"]));
    assert_eq!(mail["mailFrom"], "invitations@orgdoor.test");
    assert_eq!(mail["from"], "Orgdoor Tests <invitations@orgdoor.test>");
    assert_eq!(mail["to"], "ada@example.com");
    assert_eq!(mail["subject"], message["subject"]);
    assert_eq!(mail["contentType"], "multipart/alternative");
    let url = message["acceptUrl"].as_str().unwrap();
    for part in ["text", "html"] {
        let body = mail[part]
            .as_str()
            .unwrap_or_else(|| panic!("no {part} part"));
        assert!(body.contains(url), "the {part} part lacks the link: {body}");
        assert_eq!(
            body.replace("\r\n", "\n").trim_end(),
            message[part].as_str().unwrap().trim_end(),
            "the {part} part is the outbox's"
        );
    }
}

async fn starttls_and_implicit_tls_are_spoken_and_the_certificate_checked(backend: Backend) {
    let certificates = crate::tls::certificates();
    let folder = tempfile::tempdir().unwrap();
    let authority = folder.path().join("authority.pem");
    tokio::fs::write(&authority, &certificates.authority_pem)
        .await
        .unwrap();
    let tls_args = |mode: &str| {
        vec![
            certificates.files.certificate.display().to_string(),
            certificates.files.private_key.display().to_string(),
            mode.to_owned(),
        ]
    };
    let starttls = SmtpSink::start_with(tls_args("starttls")).await;
    let implicit = SmtpSink::start_with(tls_args("implicit")).await;
    let trusting = |url: String| DeliverySettings {
        smtp: Some(SmtpUrl::new(url)),
        smtp_ca_file: Some(authority.clone()),
        ..delivery_to(&starttls)
    };
    let servers = [
        (
            &starttls,
            format!("smtp://127.0.0.1:{}?tls=required", starttls.port),
        ),
        (&implicit, format!("smtps://127.0.0.1:{}", implicit.port)),
    ];
    for (sink, url) in servers {
        let delivery = trusting(url.clone());
        let app = spawn_app_with(backend, |app| {
            app.with_delivery(delivery).expect("delivery")
        })
        .await;
        app.invite("ada@example.com", &["ORG_MEMBER"]).await;
        outbox_when(&app, |m| all_have_status(m, 1, "DELIVERED")).await;
        let received = sink.received();
        assert_eq!(received.len(), 1, "over {url}: {received:#?}");
        assert_eq!(received[0]["to"], "ada@example.com");
    }

    // Without the authority, the server's certificate is refused: nothing is sent in the clear.
    let untrusting = DeliverySettings {
        smtp: Some(SmtpUrl::new(format!(
            "smtp://127.0.0.1:{}?tls=required",
            starttls.port
        ))),
        ..delivery_to(&starttls)
    };
    let refused_app = spawn_app_with(backend, |app| {
        app.with_delivery(untrusting).expect("delivery")
    })
    .await;
    refused_app
        .invite("unverified@example.com", &["ORG_MEMBER"])
        .await;
    let failed = outbox_when(&refused_app, |m| m.len() == 1 && m[0]["attempts"] == 1).await;
    assert_eq!(failed[0]["status"], "PENDING");
    let error = failed[0]["lastError"].as_str().unwrap().to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
    assert!(
        starttls
            .received()
            .iter()
            .all(|mail| mail["to"] != "unverified@example.com")
    );
}

async fn an_smtp_outage_loses_nothing_and_delivery_resumes_by_itself(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = app_delivering_to(backend, &sink).await;
    sink.stop().await;
    app.invite("bob@example.com", &["ORG_MEMBER"]).await;

    let waiting = outbox_when(&app, |m| m.len() == 1 && m[0]["attempts"] == 1).await;
    assert_eq!(waiting[0]["status"], "PENDING");
    let error = waiting[0]["lastError"]
        .as_str()
        .expect("the failure is told");
    assert!(!error.is_empty());
    assert!(waiting[0].get("deliveredAt").is_none());

    // The retry falls due a second later on the server's clock: nothing happens while that
    // clock stands still, and the next failure doubles the wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.outbox("").await.json["results"][0]["attempts"], 1);
    app.clock.advance(time::Duration::seconds(1));
    outbox_when(&app, |m| m.len() == 1 && m[0]["attempts"] == 2).await;

    sink.resume().await;
    app.clock.advance(time::Duration::seconds(2));
    let delivered = outbox_when(&app, |m| all_have_status(m, 1, "DELIVERED")).await;
    assert_eq!(delivered[0]["attempts"], 3);
    assert!(delivered[0].get("lastError").is_none());
    let received = sink.received();
    assert_eq!(received.len(), 1, "delivered once: {received:#?}");
    assert_eq!(received[0]["to"], "bob@example.com");
}

async fn a_cancelled_invitations_message_is_withdrawn_not_sent(backend: Backend) {
    let mut sink = SmtpSink::start().await;
    let app = app_delivering_to(backend, &sink).await;
    sink.stop().await;
    let id = app.invite("bob@example.com", &["ORG_MEMBER"]).await.id();
    outbox_when(&app, |m| m.len() == 1 && m[0]["attempts"] == 1).await;
    let cancelled = app
        .owner()
        .delete(&format!("{}/{id}", app.invites_path()))
        .await;
    assert_eq!(cancelled.status, 204, "{}", cancelled.text);
    sink.resume().await;
    app.clock.advance(time::Duration::seconds(5));
    let withdrawn = outbox_when(&app, |m| all_have_status(m, 1, "WITHDRAWN")).await;
    assert!(withdrawn[0].get("deliveredAt").is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.received().is_empty(), "a dead link was sent");
}

async fn a_permanent_refusal_is_given_up_at_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_delivering_to(backend, &sink).await;
    app.invite("refused@example.com", &["ORG_MEMBER"]).await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;

    let messages = outbox_when(&app, |m| {
        m.len() == 2 && m.iter().all(|message| message["status"] != "PENDING")
    })
    .await;
    let refused = messages
        .iter()
        .find(|message| message["to"] == "refused@example.com")
        .unwrap();
    assert_eq!(refused["status"], "FAILED");
    assert_eq!(refused["attempts"], 1);
    let error = refused["lastError"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    app.clock.advance(time::Duration::hours(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(received[0]["to"], "ada@example.com");
}

async fn a_server_that_never_answers_is_given_up_on_within_the_timeout(backend: Backend) {
    // Takes connections and says nothing, not even the greeting.
    let tarpit = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tarpit.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = tarpit.accept().await {
            connections.push(connection);
        }
    });
    let delivery = DeliverySettings {
        smtp: Some(SmtpUrl::new(format!("smtp://127.0.0.1:{port}"))),
        smtp_timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(100),
        ..DeliverySettings::default()
    };
    let app = spawn_app_with(backend, |app| {
        app.with_delivery(delivery).expect("delivery")
    })
    .await;
    app.invite("ada@example.com", &["ORG_MEMBER"]).await;
    let waiting = outbox_when(&app, |m| m.len() == 1 && m[0]["attempts"] == 1).await;
    assert_eq!(waiting[0]["status"], "PENDING");
    let error = waiting[0]["lastError"].as_str().unwrap();
    assert!(
        error.contains("did not finish") || error.to_lowercase().contains("timed out"),
        "{error}"
    );
    held.abort();
}

async fn several_instances_deliver_each_message_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_delivering_to(backend, &sink).await;
    for _ in 0..2 {
        let delivery = delivery_to(&sink);
        app.spawn_instance_with(|instance| instance.with_delivery(delivery).expect("delivery"))
            .await;
    }
    let count = 12;
    for n in 0..count {
        app.invite(&format!("p{n}@example.com"), &["ORG_MEMBER"])
            .await;
    }
    outbox_when(&app, |m| all_have_status(m, count, "DELIVERED")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = sink.received();
    let mut recipients: Vec<&str> = received
        .iter()
        .map(|mail| mail["to"].as_str().unwrap())
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    assert_eq!(received.len(), count, "each message once: {recipients:?}");
    assert_eq!(recipients.len(), count);
}
