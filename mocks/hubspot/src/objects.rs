//! The CRM object types the mock serves and their HubSpot names.

/// A HubSpot CRM object type the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubspotObject {
    /// `companies` (`0-2`).
    Companies,
    /// `contacts` (`0-1`).
    Contacts,
    /// `deals` (`0-3`).
    Deals,
}

impl HubspotObject {
    /// Every object type.
    pub const ALL: [HubspotObject; 3] = [
        HubspotObject::Companies,
        HubspotObject::Contacts,
        HubspotObject::Deals,
    ];

    /// Parses a path segment: the plural name or the object type id.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "companies" | "0-2" => Some(HubspotObject::Companies),
            "contacts" | "0-1" => Some(HubspotObject::Contacts),
            "deals" | "0-3" => Some(HubspotObject::Deals),
            _ => None,
        }
    }

    /// The plural name used in paths and association keys.
    pub fn as_str(self) -> &'static str {
        match self {
            HubspotObject::Companies => "companies",
            HubspotObject::Contacts => "contacts",
            HubspotObject::Deals => "deals",
        }
    }

    /// The singular used in association type names (`contact_to_company`).
    pub(crate) fn singular(self) -> &'static str {
        match self {
            HubspotObject::Companies => "company",
            HubspotObject::Contacts => "contact",
            HubspotObject::Deals => "deal",
        }
    }

    /// The last-modified property: contacts differ from every other object.
    pub fn modified_property(self) -> &'static str {
        match self {
            HubspotObject::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The property the `mutate` knob changes (besides the last-modified one): a company's
    /// `numberofemployees` grows by the revision number, a contact's `jobtitle` and a deal's
    /// `dealname` get ` (rev N)` appended.
    pub fn mutated_property(self) -> &'static str {
        match self {
            HubspotObject::Companies => "numberofemployees",
            HubspotObject::Contacts => "jobtitle",
            HubspotObject::Deals => "dealname",
        }
    }

    /// What the list endpoint returns when no `properties` are requested.
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            HubspotObject::Companies => &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Contacts => &[
                "firstname",
                "lastname",
                "email",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            HubspotObject::Deals => &[
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "closedate",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
        }
    }
}
