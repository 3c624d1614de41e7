//! Fault rules (`/api/orgdoor/v1/control/faults`): answer matching requests with an error
//! Atlas sends, add latency, or drop the connection, for the next N matches or at random.
//!
//! Rules live in this instance's memory. A rule that names a credential is tried after
//! authentication, against the API key or service account that signed the request; the others
//! are tried as the request arrives, before anything else runs (so also on the unauthenticated
//! first leg of a Digest exchange, as a load balancer's refusal would be).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::pattern::PathPattern;

/// The most rules held at once.
pub const MAX_RULES: usize = 100;

/// The statuses a rule can answer with, each with the body Atlas sends for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FaultStatus {
    /// 429 `RATE_LIMITED_TOKEN_BUCKET`, with `Retry-After`.
    TooManyRequests,
    /// 500 `UNEXPECTED_ERROR`.
    InternalError,
    /// 503 `SERVICE_UNAVAILABLE`, with `Retry-After`.
    Unavailable,
}

impl FaultStatus {
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            429 => Some(Self::TooManyRequests),
            500 => Some(Self::InternalError),
            503 => Some(Self::Unavailable),
            _ => None,
        }
    }

    pub fn code(self) -> u16 {
        match self {
            Self::TooManyRequests => 429,
            Self::InternalError => 500,
            Self::Unavailable => 503,
        }
    }
}

/// What a matching request gets. Latency comes first; then the status, the dropped
/// connection, or (latency alone) the normal answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultAction {
    pub status: Option<FaultStatus>,
    pub delay: Option<Duration>,
    pub drop: bool,
    /// `Retry-After` on a 429 or 503.
    pub retry_after_seconds: u32,
}

/// A rule as the control API takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFaultRule {
    /// `None` matches every method.
    pub method: Option<String>,
    pub path: PathPattern,
    /// An API key's public key or a service account's client id.
    pub credential: Option<String>,
    pub action: FaultAction,
    /// Applies to this many matches, then goes; `None` for as long as it is there.
    pub times: Option<u32>,
    /// The chance that a match is faulted, from 0 to 1; `None` for always.
    pub probability: Option<f64>,
}

/// A rule held, with what it has done.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub id: String,
    pub rule: NewFaultRule,
    /// Matches faulted so far.
    pub applied: u64,
}

/// A fault to apply to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultHit {
    pub rule_id: String,
    pub action: FaultAction,
}

/// Where a request is when rules are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage<'a> {
    /// As it arrives: rules that name no credential.
    Arrival,
    /// Authenticated as this credential: rules that name it.
    Authenticated(&'a str),
}

/// Why a rule was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {MAX_RULES} fault rules are held at once")]
pub struct TooManyRules;

#[derive(Default)]
pub struct FaultBook {
    /// Set while any rule is held, so requests skip the lock when there is none.
    any: AtomicBool,
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add(&self, rule: NewFaultRule) -> Result<FaultRule, TooManyRules> {
        let mut rules = self.lock();
        if rules.len() >= MAX_RULES {
            return Err(TooManyRules);
        }
        let held = FaultRule {
            id: uuid::Uuid::new_v4().simple().to_string(),
            rule,
            applied: 0,
        };
        rules.push(held.clone());
        self.any.store(true, Ordering::Release);
        Ok(held)
    }

    /// The rules held, oldest first.
    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// Removes one rule; false if there was none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|rule| rule.id != id);
        self.any.store(!rules.is_empty(), Ordering::Release);
        rules.len() != before
    }

    pub fn clear(&self) {
        self.lock().clear();
        self.any.store(false, Ordering::Release);
    }

    /// The fault for a request, if a rule for `stage` matches it: the oldest matching rule
    /// that the dice let through counts the match, and goes once it has used its `times`.
    pub fn take(&self, stage: Stage<'_>, method: &str, path: &str) -> Option<FaultHit> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = self.lock();
        let index = rules.iter().position(|held| {
            let rule = &held.rule;
            let stage_matches = match (stage, &rule.credential) {
                (Stage::Arrival, None) => true,
                (Stage::Authenticated(caller), Some(credential)) => caller == credential,
                _ => false,
            };
            stage_matches
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|wanted| wanted.eq_ignore_ascii_case(method))
                && rule.path.matches(path)
                && rule
                    .probability
                    .is_none_or(|chance| rand::random::<f64>() < chance)
        })?;
        let held = &mut rules[index];
        held.applied += 1;
        let hit = FaultHit {
            rule_id: held.id.clone(),
            action: held.rule.action.clone(),
        };
        if let Some(times) = held.rule.times.as_mut() {
            *times = times.saturating_sub(1);
            if *times == 0 {
                rules.remove(index);
                self.any.store(!rules.is_empty(), Ordering::Release);
            }
        }
        Some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str, times: Option<u32>) -> NewFaultRule {
        NewFaultRule {
            method: Some("GET".into()),
            path: PathPattern::parse(path).expect("a pattern"),
            credential: None,
            action: FaultAction {
                status: Some(FaultStatus::Unavailable),
                delay: None,
                drop: false,
                retry_after_seconds: 1,
            },
            times,
            probability: None,
        }
    }

    #[test]
    fn a_rule_applies_its_times_then_goes() {
        let book = FaultBook::default();
        let held = book.add(rule("/a/*", Some(2))).expect("room");
        assert_eq!(book.take(Stage::Arrival, "POST", "/a/x"), None);
        assert_eq!(book.take(Stage::Arrival, "GET", "/b/x"), None);
        let hit = book.take(Stage::Arrival, "get", "/a/x").expect("a hit");
        assert_eq!(hit.rule_id, held.id);
        assert_eq!(book.list()[0].applied, 1);
        assert!(book.take(Stage::Arrival, "GET", "/a/y").is_some());
        assert_eq!(book.take(Stage::Arrival, "GET", "/a/z"), None);
        assert!(book.list().is_empty());
    }

    #[test]
    fn credential_rules_apply_only_after_authentication_as_that_credential() {
        let book = FaultBook::default();
        book.add(NewFaultRule {
            credential: Some("abcdefgh".into()),
            ..rule("/**", None)
        })
        .expect("room");
        assert_eq!(book.take(Stage::Arrival, "GET", "/x"), None);
        assert_eq!(
            book.take(Stage::Authenticated("zzzzzzzz"), "GET", "/x"),
            None
        );
        assert!(
            book.take(Stage::Authenticated("abcdefgh"), "GET", "/x")
                .is_some()
        );
    }

    #[test]
    fn a_probability_of_zero_never_applies_and_one_always_does() {
        let book = FaultBook::default();
        book.add(NewFaultRule {
            probability: Some(0.0),
            ..rule("/**", None)
        })
        .expect("room");
        assert!((0..100).all(|_| book.take(Stage::Arrival, "GET", "/x").is_none()));
        book.clear();
        book.add(NewFaultRule {
            probability: Some(1.0),
            ..rule("/**", None)
        })
        .expect("room");
        assert!((0..100).all(|_| book.take(Stage::Arrival, "GET", "/x").is_some()));
    }

    #[test]
    fn the_book_holds_a_bounded_number_of_rules() {
        let book = FaultBook::default();
        for _ in 0..MAX_RULES {
            book.add(rule("/x", None)).expect("room");
        }
        assert_eq!(book.add(rule("/x", None)), Err(TooManyRules));
        let first = book.list()[0].id.clone();
        assert!(book.remove(&first));
        assert!(!book.remove(&first));
        assert!(book.add(rule("/x", None)).is_ok());
    }
}
