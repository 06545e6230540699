//! What the simulated org holds, for the conformance kit's truth comparison (shared by the
//! REST and Bulk conformance suites).

use std::sync::Arc;
use tributary_mock_salesforce as salesforce;
use tributary_sim::Company;
use tributary_testkit::Expected;

/// What a full read with the default settings must land: every live `Account` and `Contact`,
/// won `Opportunity`s (subscriptions come from opportunities; `Contract` is not read), every
/// `OpportunityContactRole`, and the `DatedConversionRate`s of currencies other than the
/// corporate one (whose rate is always 1). `User` and `CurrencyType` are read to map owners
/// and currencies, not synced as streams.
pub fn expected(company: &Arc<Company>) -> Expected {
    let mock = salesforce::SalesforceMock::new(
        company.clone(),
        salesforce::SalesforceMockConfig::default(),
    );
    let keep = |object: &str, row: &serde_json::Map<String, serde_json::Value>| match object {
        "Account" | "Contact" | "OpportunityContactRole" => true,
        "Opportunity" => row.get("IsWon") == Some(&serde_json::Value::Bool(true)),
        "DatedConversionRate" => {
            row.get("IsoCode").and_then(|v| v.as_str()) != Some(salesforce::CORPORATE_CURRENCY)
        }
        _ => false,
    };
    mock.live_rows()
        .into_iter()
        .filter(|(object, _)| !matches!(*object, "User" | "CurrencyType" | "Contract"))
        .map(|(object, rows)| {
            let records = rows
                .iter()
                .filter(|row| keep(object, row))
                .filter_map(salesforce::SalesforceMock::id_and_modstamp)
                .collect();
            (object.to_owned(), records)
        })
        .collect()
}

/// What an incremental run reads without landing it: deleted rows from `queryAll` (a delete
/// each) and opportunities that are not won (a delete each, as they are no subscription), with
/// the `SystemModstamp` that brings them into an incremental window; and the corporate
/// currency's own dated rates, which every (full) read of the rates skips.
pub fn read_not_landed(company: &Arc<Company>) -> Expected {
    let mock = salesforce::SalesforceMock::new(
        company.clone(),
        salesforce::SalesforceMockConfig::default(),
    );
    let mut out: Expected = mock
        .deleted_rows()
        .into_iter()
        .map(|(object, rows)| {
            let records = rows
                .iter()
                .filter_map(salesforce::SalesforceMock::id_and_modstamp)
                .collect();
            (object.to_owned(), records)
        })
        .collect();
    let open_or_lost = mock
        .live_rows()
        .remove("Opportunity")
        .unwrap_or_default()
        .into_iter()
        .filter(|row| row.get("IsWon") != Some(&serde_json::Value::Bool(true)))
        .filter_map(|row| salesforce::SalesforceMock::id_and_modstamp(&row));
    out.entry("Opportunity".to_owned())
        .or_default()
        .extend(open_or_lost);
    // The corporate currency's own dated rates (always 1) are read and skipped.
    let own_rates = mock
        .live_rows()
        .remove("DatedConversionRate")
        .unwrap_or_default()
        .into_iter()
        .filter(|row| {
            row.get("IsoCode").and_then(|v| v.as_str()) == Some(salesforce::CORPORATE_CURRENCY)
        })
        .filter_map(|row| salesforce::SalesforceMock::id_and_modstamp(&row));
    out.entry("DatedConversionRate".to_owned())
        .or_default()
        .extend(own_rates);
    out
}
