//! A simulated xAPI sender: the learning activity of the simulated world
//! ([`tributary_sim::Company::enrollments`]) as xAPI 1.0.3 statements, posted in batches to a
//! Learning Record Store with HTTP basic auth and the `X-Experience-API-Version` header, the
//! way an LMS or a course player reports to an LRS.
//!
//! Per enrollment (learner = the contact, `mbox` = the contact's email; activity =
//! `{activity_base}/courses/{code}` with the course's title and an ADL activity type):
//! - `registered` at `enrolled_at` (with the enrollment's registration UUID in `context`),
//! - `launched` at `started_at`, if the learner started,
//! - `completed` at `completed_at` (`result.completion = true`), then `passed` or `failed`
//!   with the score (`result.score.scaled` = percent / 100, `raw`/`min`/`max` in percent) when
//!   the course is graded;
//! - a dropped enrollment stays without completion.
//!
//! Statement ids are derived from the enrollment id and the step, so sending the world again
//! sends the same statements (an LRS answers them as replays).
//!
//! Unlike the other mocks this is not a server: the vendor side of xAPI is the client.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use std::time::Duration;
use tributary_model::CourseKind;
use tributary_sim::{Company, SimEnrollment};

/// What goes into the statements.
#[derive(Debug, Clone)]
pub struct StatementOptions {
    /// The base of activity ids (`{activity_base}/courses/{code}`).
    pub activity_base: String,
    /// The LMS name put in `context.platform`.
    pub platform: String,
}

impl Default for StatementOptions {
    fn default() -> Self {
        Self {
            activity_base: "https://academy.example.com".to_owned(),
            platform: "Simulated Academy".to_owned(),
        }
    }
}

const ADL_VERBS: &str = "http://adlnet.gov/expapi/verbs/";

/// A UUID (version 4 form) derived from `seed`, stable across runs.
fn stable_uuid(seed: u128) -> String {
    // SplitMix-style mixing of both halves, so neighbouring seeds differ in every byte.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix((seed >> 64) as u64 ^ 0x9e37_79b9_7f4a_7c15 ^ (seed as u64).rotate_left(17));
    let lo = mix(seed as u64 ^ hi);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The activity id of a course of the world.
pub fn activity_id(options: &StatementOptions, code: &str) -> String {
    format!(
        "{}/courses/{code}",
        options.activity_base.trim_end_matches('/')
    )
}

/// The statement id of an enrollment's step (0 registered, 1 launched, 2 completed, 3
/// passed/failed).
pub fn statement_id(enrollment: u64, step: u8) -> String {
    stable_uuid((u128::from(enrollment) << 8) | u128::from(step))
}

/// The statements of one enrollment, oldest first.
pub fn enrollment_statements(
    company: &Company,
    e: &SimEnrollment,
    options: &StatementOptions,
) -> Vec<Value> {
    let (Some(contact), Some(course)) = (
        company.contacts.get(e.person),
        company.courses.get(e.course),
    ) else {
        return vec![];
    };
    let activity_type = match course.kind {
        CourseKind::Ilt => "http://adlnet.gov/expapi/activities/meeting",
        CourseKind::Certification => "http://adlnet.gov/expapi/activities/assessment",
        _ => "http://adlnet.gov/expapi/activities/course",
    };
    let registration = stable_uuid(u128::from(e.id) | (1 << 100));
    let base = |step: u8, verb: &str, at: DateTime<Utc>| {
        json!({
            "id": statement_id(e.id, step),
            "actor": {"objectType": "Agent",
                      "name": format!("{} {}", contact.first_name, contact.last_name),
                      "mbox": format!("mailto:{}", contact.email)},
            "verb": {"id": format!("{ADL_VERBS}{verb}"), "display": {"en-US": verb}},
            "object": {"objectType": "Activity", "id": activity_id(options, &course.code),
                       "definition": {"name": {"en-US": course.title},
                                      "type": activity_type}},
            "context": {"registration": registration, "platform": options.platform},
            "timestamp": time(at),
        })
    };
    let mut out = vec![base(0, "registered", e.enrolled_at)];
    if let Some(started) = e.started_at {
        out.push(base(1, "launched", started));
    }
    if let Some(done) = e.completed_at {
        let mut completed = base(2, "completed", done);
        completed["result"] = json!({"completion": true});
        out.push(completed);
        if let (Some(passed), Some(score)) = (e.passed, e.score) {
            let percent = score.to_f64().unwrap_or(0.0).clamp(0.0, 100.0);
            let mut verdict = base(3, if passed { "passed" } else { "failed" }, done);
            verdict["result"] = json!({
                "score": {"scaled": percent / 100.0, "raw": percent, "min": 0, "max": 100},
                "success": passed, "completion": true});
            out.push(verdict);
        }
    }
    out
}

/// Every statement of the world's enrollments, in timestamp order (ties in enrollment order).
pub fn statements(company: &Company, options: &StatementOptions) -> Vec<Value> {
    let mut all: Vec<(String, Value)> = company
        .enrollments
        .iter()
        .flat_map(|e| enrollment_statements(company, e, options))
        .map(|s| (s["timestamp"].as_str().unwrap_or_default().to_owned(), s))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().map(|(_, s)| s).collect()
}

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No answer.
    #[error("the LRS did not answer: {0}")]
    Transport(#[from] reqwest::Error),
    /// The LRS refused a batch.
    #[error("the LRS answered {status}: {body}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The body.
        body: String,
    },
}

/// Posts statements to an LRS.
#[derive(Debug, Clone)]
pub struct XapiSender {
    /// The LRS base, e.g. `http://127.0.0.1:8080/xapi` (statements go to `{base}/statements`).
    pub base: String,
    /// Basic-auth user (for Tributary: the push key's name).
    pub user: String,
    /// Basic-auth password (for Tributary: the push key).
    pub password: String,
    /// Statements per POST.
    pub batch_size: usize,
    client: reqwest::Client,
}

impl XapiSender {
    /// A sender to `base` with these credentials, 100 statements per batch.
    pub fn new(
        base: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_owned(),
            user: user.into(),
            password: password.into(),
            batch_size: 100,
            client: reqwest::Client::new(),
        }
    }

    fn authorization(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    /// POSTs one batch; the ids the LRS returned. Retries (up to 5 times, backing off) on a
    /// 5xx or 429 or no answer, as an LRS client should: nothing is acknowledged that is not
    /// stored, and a replay is harmless.
    pub async fn post(&self, batch: &[Value]) -> Result<Vec<String>, SendError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = self
                .client
                .post(format!("{}/statements", self.base))
                .header("Authorization", self.authorization())
                .header("X-Experience-API-Version", "1.0.3")
                .json(&batch)
                .send()
                .await;
            let retry = match sent {
                Ok(r) if r.status().is_success() => {
                    let ids: Vec<String> = r.json().await?;
                    return Ok(ids);
                }
                Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                    if attempt >= 5 {
                        return Err(SendError::Refused {
                            status: r.status().as_u16(),
                            body: r.text().await.unwrap_or_default(),
                        });
                    }
                    true
                }
                Ok(r) => {
                    return Err(SendError::Refused {
                        status: r.status().as_u16(),
                        body: r.text().await.unwrap_or_default(),
                    });
                }
                Err(e) if attempt >= 5 => return Err(e.into()),
                Err(_) => true,
            };
            if retry {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
    }

    /// Sends every statement in batches of [`XapiSender::batch_size`]; the ids stored.
    pub async fn send_all(&self, statements: &[Value]) -> Result<Vec<String>, SendError> {
        let mut ids = Vec::with_capacity(statements.len());
        for batch in statements.chunks(self.batch_size.max(1)) {
            ids.extend(self.post(batch).await?);
        }
        Ok(ids)
    }

    /// Sends the world's learning activity ([`statements`]).
    pub async fn send_company(
        &self,
        company: &Company,
        options: &StatementOptions,
    ) -> Result<Vec<String>, SendError> {
        self.send_all(&statements(company, options)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_becomes_statements_per_enrollment_with_stable_ids() {
        let company = Company::generate(&tributary_sim::SimConfig {
            accounts: 20,
            ..tributary_sim::SimConfig::default()
        });
        let options = StatementOptions::default();
        let all = statements(&company, &options);
        assert!(!company.enrollments.is_empty());
        assert!(all.len() >= company.enrollments.len());
        assert_eq!(all, statements(&company, &options), "stable");
        let mut ids: Vec<&str> = all.iter().filter_map(|s| s["id"].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "unique ids");
        for e in &company.enrollments {
            let s = enrollment_statements(&company, e, &options);
            let verbs: Vec<&str> = s
                .iter()
                .filter_map(|x| x["verb"]["display"]["en-US"].as_str())
                .collect();
            assert_eq!(verbs[0], "registered");
            assert_eq!(verbs.contains(&"launched"), e.started_at.is_some());
            assert_eq!(verbs.contains(&"completed"), e.completed_at.is_some());
            if e.dropped_at.is_some() && e.completed_at.is_none() {
                assert!(!verbs.contains(&"completed"));
            }
            if e.completed_at.is_some() && e.score.is_some() {
                let verdict = if e.passed == Some(true) {
                    "passed"
                } else {
                    "failed"
                };
                assert!(verbs.contains(&verdict), "{verbs:?}");
            }
            assert_eq!(
                s[0]["actor"]["mbox"],
                json!(format!("mailto:{}", company.contacts[e.person].email))
            );
        }
    }
}
