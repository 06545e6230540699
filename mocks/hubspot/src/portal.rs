//! The simulated portal's own data beyond the world: which records the `malformed` knob
//! corrupts, which contacts each deal has, and the association labels it uses.

use crate::*;

/// Which records the mock serves malformed, by id, per object type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MalformedIds {
    /// Companies served with an empty `name`.
    pub companies: Vec<String>,
    /// Contacts served with a garbage `email` and no name.
    pub contacts: Vec<String>,
    /// Closed-won deals served with an `amount` that is not a number.
    pub deals: Vec<String>,
}

/// The `amount` a malformed deal is served with.
pub const MALFORMED_AMOUNT: &str = "12,5O0";
/// The `email` a malformed contact is served with.
pub const MALFORMED_EMAIL: &str = "n/a (ask the AE)";

/// Chooses, deterministically from the company's seed, the records
/// [`Faults::malformed_records`] corrupts: that many companies, contacts and closed-won deals
/// (won deals, so that a connector that skips lost and open deals still meets every one), in
/// id order. Archived records are never chosen.
pub fn malformed_ids(company: &Company, faults: &Faults) -> MalformedIds {
    let [companies, contacts, deals] = malformed_indices(company, faults);
    let ids = |set: HashSet<usize>, id: &dyn Fn(usize) -> String| {
        let mut v: Vec<usize> = set.into_iter().collect();
        v.sort_unstable();
        v.into_iter().map(id).collect()
    };
    MalformedIds {
        companies: ids(companies, &|i| company.accounts[i].id.clone()),
        contacts: ids(contacts, &|i| company.contacts[i].id.clone()),
        deals: ids(deals, &|i| company.deals[i].id.clone()),
    }
}

pub(crate) fn malformed_indices(company: &Company, faults: &Faults) -> [HashSet<usize>; 3] {
    let n = faults.malformed_records;
    if n == 0 {
        return [HashSet::new(), HashSet::new(), HashSet::new()];
    }
    let choose =
        |label: &str, candidates: Vec<usize>| faults::sample(company.seed, label, candidates, n);
    [
        choose(
            "faults.malformed.companies",
            (0..company.accounts.len())
                .filter(|&i| company.accounts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.contacts",
            (0..company.contacts.len())
                .filter(|&i| company.contacts[i].archived_at.is_none())
                .collect(),
        ),
        choose(
            "faults.malformed.deals",
            (0..company.deals.len())
                .filter(|&i| {
                    company.deals[i].stage.is_won() && company.deals[i].archived_at.is_none()
                })
                .collect(),
        ),
    ]
}

/// The contacts associated with each deal (indices into [`Company::contacts`], the primary
/// first): one to three of the people of the deal's company, chosen deterministically from the
/// seed among those who existed when the deal was last changed, so a deal's contacts change
/// only when the deal does (as the `num_associated_contacts` rollup moves its modified time in
/// HubSpot). A deal whose company had no contacts yet has none.
pub fn deal_contacts(company: &Company) -> Vec<Vec<usize>> {
    let mut contacts_by_account = vec![Vec::new(); company.accounts.len()];
    for (i, c) in company.contacts.iter().enumerate() {
        if let Some(list) = contacts_by_account.get_mut(c.account) {
            list.push(i);
        }
    }
    let numeric = |id: &str| id.parse::<u64>().unwrap_or(u64::MAX);
    company
        .deals
        .iter()
        .map(|d| {
            let deal_id = numeric(&d.id);
            let mut eligible: Vec<(u64, usize)> = contacts_by_account
                .get(d.account)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .copied()
                .filter(|&j| company.contacts[j].created_at <= d.updated_at)
                .map(|j| {
                    let contact_id = numeric(&company.contacts[j].id);
                    (
                        faults::draw(company.seed, "deal-contacts", &[deal_id, contact_id]),
                        j,
                    )
                })
                .collect();
            eligible.sort_unstable();
            let n = 1 + (faults::draw(company.seed, "deal-contacts-n", &[deal_id]) % 3) as usize;
            eligible.into_iter().take(n).map(|(_, j)| j).collect()
        })
        .collect()
}

/// The user-defined deal→contact association label the mock puts on a deal's first contact:
/// the portal marks its primary contact with a label, as HubSpot has no built-in one.
pub const PRIMARY_CONTACT_LABEL: &str = "Primary Contact";
/// The role label (user-defined) of a deal's first and second contact; the third has none.
pub const CONTACT_ROLE_LABELS: [&str; 2] = ["Decision Maker", "Champion"];
