//! The paging faults in one call: after a mock renders a page, [`FaultInjector::page_served`]
//! decides whether the next page repeats this page's last record (`duplicates`) and lets
//! `mutate` change records on this page and the next, so every mock pages through the same
//! knobs the same way whatever its cursor looks like (an id, an offset, a query locator).

use crate::FaultInjector;

/// One page a mock has rendered, as the paging faults see it.
#[derive(Debug, Clone, Copy)]
pub struct ServedPage<'a> {
    /// The stream the `duplicates` draw is keyed by (e.g. `companies?archived`).
    pub stream: &'a str,
    /// The indices of the records on this page, in order.
    pub page: &'a [usize],
    /// The indices of the records the next page will hold.
    pub upcoming: &'a [usize],
    /// The vendor id of the page's last record (`None` on an empty page).
    pub last_id: Option<&'a str>,
    /// Whether there is a next page.
    pub has_next: bool,
    /// Where `mutate` acts: the stream its revisions are kept under (what
    /// [`FaultInjector::revision`] is asked with) and a key naming this page (its cursor),
    /// or `None` for frozen records (archived ones).
    pub mutate: Option<(&'a str, &'a str)>,
}

impl FaultInjector {
    /// Applies the paging faults to a served page; returns whether the next page must start
    /// with this page's last record again (the mock moves its cursor back by one record).
    pub fn page_served(&self, served: ServedPage<'_>) -> bool {
        let repeat = served.last_id.is_some_and(|last| {
            self.repeat_last(served.stream, last, served.page.len(), served.has_next)
        });
        if let Some((stream, page_key)) = served.mutate {
            self.mutate_around_page(stream, page_key, served.page, served.upcoming);
        }
        repeat
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Faults, Probability};
    use chrono::NaiveDate;

    #[test]
    fn a_served_page_applies_both_paging_knobs() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let faults = Faults::none()
            .with_duplicates(Probability::ONE)
            .with_mutate(Probability::ONE);
        let injector = FaultInjector::for_world(3, today, faults);
        let page = ServedPage {
            stream: "things",
            page: &[0, 1],
            upcoming: &[2],
            last_id: Some("b"),
            has_next: true,
            mutate: Some(("things", "0")),
        };
        assert!(injector.page_served(page));
        assert_eq!(injector.stats().mutated, 3);
        assert!(injector.revision("things", 2).is_some());
        // The last page never repeats, and frozen records never change.
        let last = ServedPage {
            has_next: false,
            mutate: None,
            ..page
        };
        assert!(!injector.page_served(last));
        assert_eq!(injector.stats().mutated, 3);
    }
}
