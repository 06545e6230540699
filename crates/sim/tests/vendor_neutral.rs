//! The world knows no vendor (STYLE §1): no source file of `tributary-sim` names a vendor, one
//! of its fields, stage ids, enum values or id formats. Each vendor's vocabulary lives in its
//! mock crate (`mocks/<vendor>`) and its connector.

use std::path::Path;

/// Words that only a vendor's wire format uses (case-sensitive), and vendor names.
const FORBIDDEN: &[&str] = &[
    // Vendors.
    "HubSpot",
    "Hubspot",
    "hubspot",
    "Salesforce",
    "salesforce",
    "SFDC",
    "sforce",
    // HubSpot properties, stage ids and enum values.
    "dealstage",
    "dealname",
    "dealtype",
    "closedwon",
    "closedlost",
    "appointmentscheduled",
    "newbusiness",
    "existingbusiness",
    "lastmodifieddate",
    "createdate",
    "numberofemployees",
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    // Salesforce fields, labels, objects and id formats.
    "SystemModstamp",
    "IsDeleted",
    "StageName",
    "Closed Won",
    "Closed Lost",
    "CurrencyIsoCode",
    "OpportunityContactRole",
    "DatedConversionRate",
    "SOQL",
    "soql",
];

/// Whether `text` has `hs_` starting a word (HubSpot's own properties: `hs_object_id`), or a
/// word ending in `__c` (Salesforce custom fields), which plain substrings would over-match.
fn vendor_affixes(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for (i, _) in text.match_indices("hs_") {
        if i == 0 || !word(bytes[i - 1]) {
            return Some("hs_");
        }
    }
    for (i, _) in text.match_indices("__c") {
        let end = i + 3;
        if end == bytes.len() || !word(bytes[end]) {
            return Some("__c");
        }
    }
    None
}

#[test]
fn the_world_names_no_vendor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let hits = FORBIDDEN
                .iter()
                .copied()
                .filter(|w| line.contains(w))
                .chain(vendor_affixes(line));
            for word in hits {
                found.push(format!(
                    "{}:{}: `{word}` in {line:?}",
                    path.display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        files >= 8,
        "read {files} source files from {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "vendor vocabulary in the world:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_affix_checks_match_words_only() {
    assert_eq!(vendor_affixes("\"hs_object_id\""), Some("hs_"));
    assert_eq!(vendor_affixes("months_left"), None);
    assert_eq!(vendor_affixes("ARR__c,"), Some("__c"));
    assert_eq!(vendor_affixes("a__count"), None);
}
