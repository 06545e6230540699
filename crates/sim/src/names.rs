//! Word lists the generator draws names from. Only data: appending to a list changes which
//! names a seed produces, so append new lists rather than editing old ones once data is pinned.

use crate::Industry;

/// First halves of company names ("Blue" + "peak").
pub(crate) const NAME_HEADS: &[&str] = &[
    "Blue", "North", "Silver", "Iron", "Bright", "Clear", "Red", "Green", "Stone", "River",
    "Summit", "Oak", "Pine", "Cedar", "Maple", "Granite", "Swift", "True", "Nova", "Sun", "Star",
    "Cloud", "Harbor", "Falcon", "Eagle", "Hawk", "Wolf", "Fox", "Bear", "Lion", "Golden",
    "Crystal", "Quantum", "Vector", "Apex", "Zen", "Bold", "Prime", "Open", "Deep", "High", "West",
    "East", "South", "Lake", "Ever", "Wind", "Fire", "Frost", "Moon",
];

/// Second halves of company names.
pub(crate) const NAME_TAILS: &[&str] = &[
    "peak", "field", "bridge", "stone", "wave", "point", "gate", "path", "light", "works", "forge",
    "line", "spring", "crest", "mark", "ridge", "wood", "view", "port", "haven", "leaf", "brook",
    "shore", "rock", "vale", "loop", "grid", "beam", "core", "scale",
];

/// Words that say what a company does ("Bluepeak Analytics").
pub(crate) const NAME_TRADES: &[&str] = &[
    "Analytics",
    "Systems",
    "Labs",
    "Logistics",
    "Health",
    "Capital",
    "Software",
    "Robotics",
    "Energy",
    "Foods",
    "Media",
    "Networks",
    "Partners",
    "Solutions",
    "Dynamics",
    "Pharma",
    "Retail",
    "Insurance",
    "Learning",
    "Security",
    "Telecom",
    "Manufacturing",
    "Consulting",
    "Biotech",
    "Freight",
    "Financial",
    "Studios",
    "Data",
    "Materials",
    "Aerospace",
];

/// Legal suffixes; the empty string (no suffix) is the most common.
pub(crate) const LEGAL_SUFFIXES: &[&str] =
    &["", "", "", "", " Inc.", " LLC", " Ltd", " Group", " Corp."];

/// The industries accounts are in, in the order the generator draws from.
pub(crate) const INDUSTRIES: &[Industry] = &[
    Industry::ComputerSoftware,
    Industry::FinancialServices,
    Industry::HospitalHealthCare,
    Industry::Machinery,
    Industry::Retail,
    Industry::ELearning,
    Industry::LogisticsAndSupplyChain,
    Industry::MarketingAndAdvertising,
    Industry::Telecommunications,
    Industry::OilEnergy,
    Industry::ManagementConsulting,
    Industry::Insurance,
];

/// A country accounts are located in.
pub(crate) struct Geo {
    /// Sales region.
    pub region: &'static str,
    /// Country name in English.
    pub country: &'static str,
    /// Cities to pick from.
    pub cities: &'static [&'static str],
    /// Top-level domain of company web sites there.
    pub tld: &'static str,
    /// Billing currency.
    pub currency: &'static str,
    /// Relative frequency; the weights sum to 100.
    pub weight: u32,
}

/// Where accounts are; weights sum to 100.
pub(crate) const GEOGRAPHY: &[Geo] = &[
    Geo {
        region: "NA",
        country: "United States",
        cities: &[
            "New York",
            "San Francisco",
            "Austin",
            "Chicago",
            "Boston",
            "Seattle",
            "Denver",
            "Atlanta",
        ],
        tld: "com",
        currency: "USD",
        weight: 46,
    },
    Geo {
        region: "NA",
        country: "Canada",
        cities: &["Toronto", "Vancouver", "Montreal"],
        tld: "ca",
        currency: "USD",
        weight: 6,
    },
    Geo {
        region: "EMEA",
        country: "United Kingdom",
        cities: &["London", "Manchester", "Edinburgh", "Bristol"],
        tld: "co.uk",
        currency: "GBP",
        weight: 12,
    },
    Geo {
        region: "EMEA",
        country: "Germany",
        cities: &["Berlin", "Munich", "Hamburg", "Frankfurt"],
        tld: "de",
        currency: "EUR",
        weight: 8,
    },
    Geo {
        region: "EMEA",
        country: "France",
        cities: &["Paris", "Lyon", "Toulouse"],
        tld: "fr",
        currency: "EUR",
        weight: 5,
    },
    Geo {
        region: "EMEA",
        country: "Netherlands",
        cities: &["Amsterdam", "Rotterdam", "Utrecht"],
        tld: "nl",
        currency: "EUR",
        weight: 4,
    },
    Geo {
        region: "EMEA",
        country: "Ireland",
        cities: &["Dublin", "Cork"],
        tld: "ie",
        currency: "EUR",
        weight: 2,
    },
    Geo {
        region: "APAC",
        country: "Australia",
        cities: &["Sydney", "Melbourne", "Brisbane"],
        tld: "com.au",
        currency: "USD",
        weight: 6,
    },
    Geo {
        region: "APAC",
        country: "Singapore",
        cities: &["Singapore"],
        tld: "sg",
        currency: "USD",
        weight: 3,
    },
    Geo {
        region: "APAC",
        country: "Japan",
        cities: &["Tokyo", "Osaka"],
        tld: "jp",
        currency: "USD",
        weight: 3,
    },
    Geo {
        region: "LATAM",
        country: "Brazil",
        cities: &["São Paulo", "Rio de Janeiro"],
        tld: "com.br",
        currency: "USD",
        weight: 3,
    },
    Geo {
        region: "LATAM",
        country: "Mexico",
        cities: &["Mexico City", "Monterrey"],
        tld: "com.mx",
        currency: "USD",
        weight: 2,
    },
];

/// Given names.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Steven",
    "Emily",
    "Paul",
    "Michelle",
    "Andrew",
    "Amanda",
    "Joshua",
    "Melissa",
    "Kevin",
    "Laura",
    "Brian",
    "Rebecca",
    "Priya",
    "Aisha",
    "Wei",
    "Yuki",
    "Olga",
    "Lucas",
    "Sofia",
    "Mateo",
    "Elena",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Hannah",
    "Jonas",
    "Lea",
    "Pierre",
    "Camille",
    "Sven",
    "Ingrid",
    "Raj",
    "Ananya",
    "Hiroshi",
    "Mei",
    "Diego",
    "Valentina",
    "Omar",
    "Fatima",
    "Kofi",
    "Amara",
    "Finn",
    "Niamh",
    "Lars",
    "Freya",
    "Ethan",
    "Chloe",
];

/// Family names.
pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Patel",
    "Shah",
    "Chen",
    "Wang",
    "Tanaka",
    "Sato",
    "Müller",
    "Schmidt",
    "Schneider",
    "Dubois",
    "Moreau",
    "Bernard",
    "Jansen",
    "de Vries",
    "Rossi",
    "Silva",
    "Santos",
    "Kowalski",
    "Novak",
    "Ivanova",
    "O'Brien",
    "Murphy",
    "Kelly",
    "Nguyen",
    "Kim",
    "Park",
    "Singh",
    "Kumar",
    "Okafor",
    "Mensah",
    "Larsen",
    "Johansson",
];

/// Free-mail domains: contacts on these never match an account by domain.
pub(crate) const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
];

/// Job titles of admins.
pub(crate) const ADMIN_TITLES: &[&str] = &[
    "IT Administrator",
    "Systems Administrator",
    "Operations Manager",
    "Platform Owner",
    "Revenue Operations Manager",
];

/// Job titles of executives.
pub(crate) const EXECUTIVE_TITLES: &[&str] = &[
    "Chief Executive Officer",
    "Chief Operating Officer",
    "VP of Operations",
    "VP of Engineering",
    "Chief Revenue Officer",
    "Head of Customer Success",
];

/// Job titles of end users.
pub(crate) const END_USER_TITLES: &[&str] = &[
    "Analyst",
    "Account Executive",
    "Customer Success Manager",
    "Marketing Specialist",
    "Software Engineer",
    "Project Manager",
    "Support Specialist",
    "Data Scientist",
    "Sales Development Representative",
    "Designer",
];

/// Plan tiers by segment (smb, mid-market, enterprise).
pub(crate) const PLANS: [&str; 3] = ["Starter", "Professional", "Enterprise"];

/// A product feature of the simulated product, with its place on the release calendar.
pub(crate) struct FeatureSpec {
    /// Stable key, snake_case (also the `feature` of usage events).
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Release day relative to `SimConfig::history_start` (negative: before the history).
    pub release_offset_days: i64,
    /// Part of the core product: every account uses it from its first day.
    pub core: bool,
    /// The "key action" feature whose first use marks time-to-value.
    pub key_action: bool,
    /// Probability that an account adopts the feature at all without training.
    pub adoption: f64,
    /// Segment-style event names ("Object Action") the feature emits.
    pub events: &'static [&'static str],
}

/// The product's features in release order. The last one is released after the default
/// today, so moving the clock forward makes it (and its courses) appear.
pub(crate) const FEATURES: &[FeatureSpec] = &[
    FeatureSpec {
        key: "dashboards",
        name: "Dashboards",
        release_offset_days: -900,
        core: true,
        key_action: false,
        adoption: 1.0,
        events: &["Dashboard Viewed", "Dashboard Created", "Dashboard Shared"],
    },
    FeatureSpec {
        key: "reports",
        name: "Reports",
        release_offset_days: -880,
        core: true,
        key_action: false,
        adoption: 1.0,
        events: &["Report Run", "Report Created", "Report Exported"],
    },
    FeatureSpec {
        key: "permissions",
        name: "Roles and Permissions",
        release_offset_days: -800,
        core: false,
        key_action: false,
        adoption: 0.75,
        events: &["Role Assigned", "Permission Set Updated"],
    },
    FeatureSpec {
        key: "workflows",
        name: "Workflows",
        release_offset_days: -700,
        core: false,
        key_action: true,
        adoption: 1.0,
        events: &["Workflow Created", "Workflow Run", "Workflow Edited"],
    },
    FeatureSpec {
        key: "integrations",
        name: "Integrations",
        release_offset_days: -600,
        core: false,
        key_action: false,
        adoption: 0.7,
        events: &["Integration Connected", "Integration Synced"],
    },
    FeatureSpec {
        key: "api",
        name: "REST API",
        release_offset_days: -500,
        core: false,
        key_action: false,
        adoption: 0.45,
        events: &["API Key Created", "API Request Made"],
    },
    FeatureSpec {
        key: "alerts",
        name: "Alerts",
        release_offset_days: 120,
        core: false,
        key_action: false,
        adoption: 0.65,
        events: &["Alert Created", "Alert Triggered"],
    },
    FeatureSpec {
        key: "forecasting",
        name: "Forecasting",
        release_offset_days: 380,
        core: false,
        key_action: false,
        adoption: 0.5,
        events: &["Forecast Created", "Forecast Viewed"],
    },
    FeatureSpec {
        key: "data_export",
        name: "Data Export",
        release_offset_days: 560,
        core: false,
        key_action: false,
        adoption: 0.55,
        events: &["Export Scheduled", "Export Downloaded"],
    },
    FeatureSpec {
        key: "mobile_app",
        name: "Mobile App",
        release_offset_days: 750,
        core: false,
        key_action: false,
        adoption: 0.5,
        events: &["Mobile Session Started", "Mobile Dashboard Viewed"],
    },
    FeatureSpec {
        key: "audit_log",
        name: "Audit Log",
        release_offset_days: 940,
        core: false,
        key_action: false,
        adoption: 0.35,
        events: &["Audit Log Viewed", "Audit Log Exported"],
    },
    FeatureSpec {
        key: "sandbox",
        name: "Sandbox",
        release_offset_days: 1150,
        core: false,
        key_action: false,
        adoption: 0.3,
        events: &["Sandbox Created", "Sandbox Promoted"],
    },
    FeatureSpec {
        key: "ai_assistant",
        name: "AI Assistant",
        release_offset_days: 1400,
        core: false,
        key_action: false,
        adoption: 0.6,
        events: &["Assistant Prompted", "Assistant Suggestion Accepted"],
    },
    FeatureSpec {
        key: "custom_objects",
        name: "Custom Objects",
        release_offset_days: 1650,
        core: false,
        key_action: false,
        adoption: 0.4,
        events: &["Custom Object Created", "Custom Record Edited"],
    },
    FeatureSpec {
        key: "embedded_analytics",
        name: "Embedded Analytics",
        release_offset_days: 1880,
        core: false,
        key_action: false,
        adoption: 0.45,
        events: &["Embed Created", "Embed Viewed"],
    },
];

/// Certification tracks: title and the features they examine.
pub(crate) const CERTIFICATIONS: &[(&str, i64, &[&str])] = &[
    (
        "Certified Administrator",
        -300,
        &["permissions", "workflows", "integrations", "audit_log"],
    ),
    (
        "Certified Analyst",
        200,
        &["dashboards", "reports", "forecasting", "data_export"],
    ),
    (
        "Certified Developer",
        700,
        &["api", "integrations", "sandbox", "custom_objects"],
    ),
];

/// Learning paths: title and the features whose "Getting Started" courses they sequence.
pub(crate) const LEARNING_PATHS: &[(&str, &[&str])] = &[
    (
        "Onboarding Essentials",
        &["dashboards", "reports", "workflows"],
    ),
    (
        "Administrator Path",
        &["permissions", "workflows", "integrations"],
    ),
    ("Analyst Path", &["reports", "forecasting", "data_export"]),
];

/// Subjects of how-to tickets; `{f}` is replaced by the feature name.
pub(crate) const HOWTO_SUBJECTS: &[&str] = &[
    "How do I set up {f}?",
    "Question about configuring {f}",
    "Where can I find the {f} settings?",
    "How to share {f} with my team",
    "Best way to get started with {f}",
];

/// Subjects of defect tickets.
pub(crate) const DEFECT_SUBJECTS: &[&str] = &[
    "{f} shows an error",
    "{f} is very slow today",
    "Unexpected results in {f}",
    "{f} stopped working after the update",
];

/// Subjects of other tickets.
pub(crate) const OTHER_SUBJECTS: &[&str] = &[
    "Invoice question",
    "Please add seats to our plan",
    "Request for a security questionnaire",
    "Change of billing contact",
    "Feature request for {f}",
];

/// Ticket channels with Zendesk's `via.channel` names.
pub(crate) const TICKET_CHANNELS: &[&str] = &["email", "web", "web", "chat", "api"];
