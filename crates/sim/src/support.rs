//! Support tickets: how-to questions, defects and everything else, raised by the people of an
//! account while it uses the product. Less healthy accounts ask more how-to questions, and
//! training deflects a planted share of how-to tickets for a year after each completion; the
//! twin keeps every how-to ticket, so the deflection is known exactly.

use crate::causal::CausalConfig;
use crate::company::{Presence, draws, midnight, present_at, stream_rng};
use crate::names;
use crate::usage::{UsagePlan, health_on, in_intervals};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::sync::OnceLock;
use tributary_model::TicketCategory;

/// Where a ticket stands (Zendesk's statuses, without `pending` and `hold`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    /// Not answered yet.
    New,
    /// Answered, not solved.
    Open,
    /// Solved.
    Solved,
    /// Solved and closed (four days after solving).
    Closed,
}

impl TicketStatus {
    /// Zendesk's status name.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        }
    }
}

/// A support ticket, as of the company's today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimTicket {
    /// Stable numeric id, ascending in creation order (Zendesk ids are).
    pub id: u64,
    /// Index into [`crate::Company::accounts`].
    pub account: usize,
    /// Index into [`crate::Company::contacts`] of the requester.
    pub requester: usize,
    /// Subject line: one of a fixed set (most of them name the feature), shared by tickets.
    pub subject: &'static str,
    /// How-to, defect or other.
    pub category: TicketCategory,
    /// Key of the feature it is about.
    pub feature: &'static str,
    /// Channel it came through (`email`, `web`, `chat`, `api`).
    pub channel: &'static str,
    /// Zendesk priority (`low`, `normal`, `high`, `urgent`).
    pub priority: &'static str,
    /// Status as of today.
    pub status: TicketStatus,
    /// Tags: the category (`how_to`, `defect`, `other`) and the feature key (a fixed pair: no
    /// allocation per ticket).
    pub tags: [&'static str; 2],
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// First agent reply, if any yet.
    pub first_replied_at: Option<DateTime<Utc>>,
    /// When it was solved, if it was.
    pub solved_at: Option<DateTime<Utc>>,
}

/// A ticket over its whole life.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TicketPlan {
    pub ticket: SimTicket,
    replied: DateTime<Utc>,
    solved: DateTime<Utc>,
    closed: DateTime<Utc>,
}

impl TicketPlan {
    /// The ticket as of `today` (id unset), if raised by then.
    pub(crate) fn into_as_of(self, today: NaiveDate) -> Option<SimTicket> {
        let cutoff = midnight(today);
        let mut t = self.ticket;
        if t.created_at >= cutoff {
            return None;
        }
        t.status = TicketStatus::New;
        t.updated_at = t.created_at;
        for (at, status) in [
            (self.replied, TicketStatus::Open),
            (self.solved, TicketStatus::Solved),
            (self.closed, TicketStatus::Closed),
        ] {
            if at < cutoff {
                t.status = status;
                t.updated_at = at;
            }
        }
        t.first_replied_at = Some(self.replied).filter(|r| *r < cutoff);
        t.solved_at = Some(self.solved).filter(|s| *s < cutoff);
        Some(t)
    }
}

/// The tickets of one account and its how-to counts with and without training.
pub(crate) struct AccountTickets {
    pub plans: Vec<TicketPlan>,
    /// How-to tickets raised before today in the factual world.
    pub howto: usize,
    /// How-to tickets raised before today had the account never trained.
    pub howto_twin: usize,
}

/// Every subject line a ticket can have: per category, per template, per feature, the
/// template with the feature's name in it. Built once, so that tickets share them.
fn subjects() -> &'static [Vec<Vec<String>>; 3] {
    static SUBJECTS: OnceLock<[Vec<Vec<String>>; 3]> = OnceLock::new();
    SUBJECTS.get_or_init(|| {
        [
            names::HOWTO_SUBJECTS,
            names::DEFECT_SUBJECTS,
            names::OTHER_SUBJECTS,
        ]
        .map(|templates| {
            templates
                .iter()
                .map(|t| {
                    names::FEATURES
                        .iter()
                        .map(|f| t.replace("{f}", f.name))
                        .collect()
                })
                .collect()
        })
    })
}

/// Generates the tickets of account `idx` from its first usage until churn or `today`
/// (stream `support`): a thinned Poisson process whose rate grows with size and falls with
/// health; every candidate consumes the same draws whether kept or not.
pub(crate) fn plan_tickets(
    seed: u64,
    idx: usize,
    employees: u32,
    usage: &UsagePlan<'_>,
    people: &[Presence],
    cfg: &CausalConfig,
    today: NaiveDate,
) -> AccountTickets {
    let mut rng = stream_rng(seed, "support", idx as u64);
    let per_day = (1.0 + 0.1 * f64::from(employees).sqrt()) / 365.0;
    let max_rate = per_day * 3.0;
    let stop = midnight(usage.end.map_or(today, |c| c.min(today)));
    let mut t = midnight(usage.start) + Duration::days(7);
    let mut out = AccountTickets {
        plans: Vec::new(),
        howto: 0,
        howto_twin: 0,
    };
    loop {
        let u: [f64; 12] = draws(&mut rng);
        t += Duration::milliseconds((-(1.0 - u[0]).ln() / max_rate * 86_400_000.0) as i64);
        if t >= stop {
            break;
        }
        let day = t.date_naive();
        let health = health_on(usage.health, day);
        if u[1] >= ((-0.25 * health).exp() / 3.0).min(1.0) {
            continue;
        }
        let p_howto = (0.45 - 0.08 * health).clamp(0.2, 0.7);
        let category = if u[2] < p_howto {
            TicketCategory::HowTo
        } else if u[2] < p_howto + 0.6 * (1.0 - p_howto) {
            TicketCategory::Defect
        } else {
            TicketCategory::Other
        };
        let Some(requester) = present_at(people, t, t, u[4]) else {
            continue;
        };
        if category == TicketCategory::HowTo {
            out.howto_twin += 1;
            if in_intervals(usage.uplift, day) && u[3] < cfg.howto_ticket_reduction {
                continue;
            }
            out.howto += 1;
        }
        let adopted = usage
            .adopted
            .partition_point(|(from, _)| *from <= day)
            .max(1);
        let f = usage
            .adopted
            .get((u[5] * adopted as f64) as usize)
            .map_or(0, |a| usize::from(a.1));
        let spec = &names::FEATURES[f];
        let (c, tag) = match category {
            TicketCategory::HowTo => (0, "how_to"),
            TicketCategory::Defect => (1, "defect"),
            TicketCategory::Other => (2, "other"),
        };
        let templates = &subjects()[c];
        let by_feature = &templates[(u[6] * templates.len() as f64) as usize % templates.len()];
        let priority = match (category, u[7]) {
            (TicketCategory::Defect, p) if p < 0.1 => "urgent",
            (TicketCategory::Defect, p) if p < 0.45 => "high",
            (_, p) if p < 0.25 => "low",
            _ => "normal",
        };
        let replied = t + Duration::minutes(10 + (u[8] * 470.0) as i64);
        let solve_hours = match category {
            TicketCategory::HowTo => 1.0 + u[9] * 47.0,
            _ => 2.0 + u[9] * 118.0,
        };
        let solved = replied + Duration::minutes((solve_hours * 60.0) as i64);
        let closed = solved + Duration::days(4);
        out.plans.push(TicketPlan {
            ticket: SimTicket {
                id: 0,
                account: idx,
                requester,
                subject: &by_feature[f],
                category,
                feature: spec.key,
                channel: names::TICKET_CHANNELS[(u[10] * names::TICKET_CHANNELS.len() as f64)
                    as usize
                    % names::TICKET_CHANNELS.len()],
                priority,
                status: TicketStatus::New,
                tags: [tag, spec.key],
                created_at: t,
                updated_at: t,
                first_replied_at: None,
                solved_at: None,
            },
            replied,
            solved,
            closed,
        });
    }
    out
}
