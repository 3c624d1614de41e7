//! The outbox worker: every instance runs one. With an SMTP server configured it claims due
//! messages under a lease (so instances on one store never send one message twice), sends them
//! with lettre, and records the outcome — delivered, retried later with a doubling back-off, or
//! given up on a permanent refusal or after [`MAX_DELIVERY_ATTEMPTS`]. Without one, messages
//! stay in the outbox for clients to read. Either way it deletes messages older than their
//! links can live.

use std::path::Path;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncTransport, Message, Tokio1Executor};
use orgdoor_domain::{INVITATION_LIFETIME, MAX_DELIVERY_ATTEMPTS, OutboxMessage, retry_delay};
use orgdoor_store::DeliveryOutcome;
use time::{Duration, OffsetDateTime};

use crate::config::{DeliverySettings, SmtpUrl};
use crate::state::AppState;

/// How many messages one claim takes: few, so a batch is sent well within its lease.
const CLAIM_BATCH: u32 = 4;
/// The longest a `last_error` is kept.
const MAX_ERROR_LEN: usize = 500;

/// A ready SMTP client and the sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The most one message may take, from connecting to the server's last answer.
    timeout: std::time::Duration,
}

impl Mailer {
    /// Checks the settings (URL, `From`, trusted certificates) without connecting; `None`
    /// without an SMTP URL.
    pub fn from_settings(settings: &DeliverySettings) -> anyhow::Result<Option<Self>> {
        let Some(url) = &settings.smtp else {
            return Ok(None);
        };
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|error| anyhow::anyhow!("--mail-from {:?}: {error}", settings.from))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|error| anyhow::anyhow!("--smtp-url {url:?}: {error}"))?
            .timeout(Some(settings.smtp_timeout));
        if let Some(ca_file) = &settings.smtp_ca_file {
            builder = builder.tls(tls_trusting(url, ca_file)?);
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
            timeout: settings.smtp_timeout,
        }))
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let to: Mailbox = message
            .to
            .as_str()
            .parse()
            .map_err(|error| SendError::Permanent(format!("recipient: {error}")))?;
        let email = Message::builder()
            .message_id(None)
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|error| SendError::Permanent(error.to_string()))?;
        // lettre's own timeout covers connecting, not a server that then never answers.
        let sent = tokio::time::timeout(self.timeout, self.transport.send(email)).await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) if error.is_permanent() && !is_setup_refusal(&error) => {
                Err(SendError::Permanent(error.to_string()))
            }
            Ok(Err(error)) => Err(SendError::Transient(error.to_string())),
            Err(_) => Err(SendError::Transient(format!(
                "the SMTP server did not finish within {} s",
                self.timeout.as_secs()
            ))),
        }
    }
}

/// The TLS the URL asks for, trusting the certificates in `ca_file` besides the system's.
#[expect(
    clippy::disallowed_methods,
    reason = "reads the certificate file once, at startup"
)]
fn tls_trusting(url: &SmtpUrl, ca_file: &Path) -> anyhow::Result<Tls> {
    let parsed = url::Url::parse(url.expose())
        .map_err(|error| anyhow::anyhow!("--smtp-url {url:?}: {error}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("--smtp-url {url:?} names no host"))?;
    let mode = parsed
        .query_pairs()
        .find(|(name, _)| name == "tls")
        .map(|(_, value)| value.into_owned());
    let wrap: fn(TlsParameters) -> Tls = match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper,
        ("smtp", Some("required")) => Tls::Required,
        ("smtp", Some("opportunistic")) => Tls::Opportunistic,
        _ => {
            return Err(anyhow::anyhow!(
                "--smtp-ca-file needs an SMTP URL with TLS (smtps://… or ?tls=required), \
                 not {url:?}"
            ));
        }
    };
    let pem = std::fs::read(ca_file)
        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", ca_file.display()))?;
    let certificate = Certificate::from_pem(&pem)
        .map_err(|error| anyhow::anyhow!("{}: {error}", ca_file.display()))?;
    let parameters = TlsParameters::builder(host.to_owned())
        .add_root_certificate(certificate)
        .build_rustls()
        .map_err(|error| anyhow::anyhow!("{}: {error}", ca_file.display()))?;
    Ok(wrap(parameters))
}

/// A 5xx reply about the session rather than the message — authentication required or failed,
/// encryption required — is the server's set-up or ours, not a refusal of this message: it is
/// retried (and fixed by an operator) rather than given up on.
fn is_setup_refusal(error: &lettre::transport::smtp::Error) -> bool {
    error
        .status()
        .is_some_and(|code| matches!(code.to_string().as_str(), "530" | "534" | "535" | "538"))
}

enum SendError {
    /// Refused for good (a 5xx reply, an address no server takes).
    Permanent(String),
    /// Worth another try (the server down, a 4xx reply, a timeout).
    Transient(String),
}

/// Runs the outbox worker until the task is dropped.
pub async fn run_outbox(state: AppState, settings: DeliverySettings, mailer: Option<Mailer>) {
    let owner = uuid::Uuid::new_v4().to_string();
    let mut next_prune = OffsetDateTime::UNIX_EPOCH;
    loop {
        let now = state.clock.now();
        if now >= next_prune {
            // A message outlives its link by a week at most; then it is only clutter.
            let before = now - INVITATION_LIFETIME - Duration::days(7);
            if let Err(error) = state.store.prune_outbox(before).await {
                tracing::warn!(%error, "pruning the outbox failed");
            }
            next_prune = now + Duration::hours(1);
        }
        if let Some(mailer) = &mailer {
            deliver_due(&state, &settings, mailer, &owner).await;
        }
        tokio::select! {
            () = state.outbox_posted.notified() => {}
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
    }
}

/// Delivers what is due until nothing is.
async fn deliver_due(state: &AppState, settings: &DeliverySettings, mailer: &Mailer, owner: &str) {
    loop {
        let now = state.clock.now();
        // Long enough for every message of the batch to reach its timeout.
        let batch_time = time::Duration::try_from(settings.smtp_timeout * (CLAIM_BATCH + 1))
            .unwrap_or(settings.lease);
        let lease_until = now + settings.lease.max(batch_time);
        let claimed = match state
            .store
            .claim_due_messages(owner, now, lease_until, CLAIM_BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming outbox messages failed");
                return;
            }
        };
        if claimed.is_empty() {
            return;
        }
        for message in claimed {
            let outcome = match mailer.send(&message).await {
                Ok(()) => DeliveryOutcome::Delivered,
                Err(error) => failure(state, settings, &message, error),
            };
            tracing::info!(message = %message.id, to = %message.to, ?outcome, "outbox delivery");
            let recorded = state
                .store
                .record_delivery(&message.id, owner, outcome, state.clock.now())
                .await;
            if let Err(error) = recorded {
                // The lease runs out and another attempt follows.
                tracing::warn!(%error, message = %message.id, "recording a delivery failed");
            }
        }
    }
}

fn failure(
    state: &AppState,
    settings: &DeliverySettings,
    message: &OutboxMessage,
    error: SendError,
) -> DeliveryOutcome {
    let attempts = message.attempts.saturating_add(1);
    let (error, retry) = match error {
        SendError::Permanent(error) => (error, false),
        SendError::Transient(error) => (error, attempts < MAX_DELIVERY_ATTEMPTS),
    };
    let retry_at = retry.then(|| {
        state.clock.now() + retry_delay(attempts, settings.retry_initial, settings.retry_ceiling)
    });
    DeliveryOutcome::Failed {
        error: printable(&error),
        retry_at,
    }
}

/// An error as one bounded line.
fn printable(error: &str) -> String {
    error
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, ca_file: Option<&str>) -> DeliverySettings {
        DeliverySettings {
            smtp: Some(SmtpUrl::new(url)),
            smtp_ca_file: ca_file.map(Into::into),
            ..DeliverySettings::default()
        }
    }

    fn refusal(settings: &DeliverySettings) -> String {
        match Mailer::from_settings(settings) {
            Ok(_) => panic!("accepted {settings:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn settings_lettre_cannot_use_are_refused_at_startup_without_the_password() {
        assert!(
            Mailer::from_settings(&DeliverySettings::default())
                .unwrap()
                .is_none()
        );
        assert!(
            Mailer::from_settings(&settings("smtp://127.0.0.1:25", None))
                .unwrap()
                .is_some()
        );
        let unknown = refusal(&settings("http://user:hunter2@mail.example.com/", None));
        assert!(unknown.contains("--smtp-url"), "{unknown}");
        assert!(!unknown.contains("hunter2"), "{unknown}");
        let plain = refusal(&settings(
            "smtp://user:hunter2@mail.example.com:25",
            Some("/x.pem"),
        ));
        assert!(plain.contains("needs an SMTP URL with TLS"), "{plain}");
        assert!(!plain.contains("hunter2"), "{plain}");
        let missing = refusal(&settings(
            "smtps://mail.example.com",
            Some("/nonexistent.pem"),
        ));
        assert!(
            missing.contains("cannot read /nonexistent.pem"),
            "{missing}"
        );
        let sender = refusal(&DeliverySettings {
            from: "not an address".into(),
            ..settings("smtp://127.0.0.1:25", None)
        });
        assert!(sender.contains("--mail-from"), "{sender}");
    }
}
