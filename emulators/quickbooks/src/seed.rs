//! Objects every new company has: chart of accounts, tax codes and rates, payment methods.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::entities::EntityKind;
use crate::json::Object;
use crate::store::Realm;

fn obj(v: Value) -> Object {
    match v {
        Value::Object(m) => m,
        _ => Object::new(),
    }
}

pub fn seed(realm: &mut Realm, now: DateTime<Utc>) {
    let currency = json!({"value": realm.config.home_currency, "name": realm.config.home_currency});
    let accounts = [
        (
            "Undeposited Funds",
            "Other Current Asset",
            "UndepositedFunds",
            "Asset",
        ),
        ("Checking", "Bank", "Checking", "Asset"),
        (
            "Sales of Product Income",
            "Income",
            "SalesOfProductIncome",
            "Revenue",
        ),
        ("Services", "Income", "ServiceFeeIncome", "Revenue"),
        (
            "Cost of Goods Sold",
            "Cost of Goods Sold",
            "SuppliesMaterialsCogs",
            "Expense",
        ),
        (
            "Inventory Asset",
            "Other Current Asset",
            "Inventory",
            "Asset",
        ),
        (
            "Discounts given",
            "Income",
            "DiscountsRefundsGiven",
            "Revenue",
        ),
        (
            "Accounts Receivable (A/R)",
            "Accounts Receivable",
            "AccountsReceivable",
            "Asset",
        ),
        (
            "Accounts Payable (A/P)",
            "Accounts Payable",
            "AccountsPayable",
            "Liability",
        ),
        (
            "Board of Equalization Payable",
            "Other Current Liability",
            "SalesTaxPayable",
            "Liability",
        ),
        ("Shipping Income", "Income", "OtherPrimaryIncome", "Revenue"),
        (
            "Office Expenses",
            "Expense",
            "OfficeGeneralAdministrativeExpenses",
            "Expense",
        ),
    ];
    for (name, account_type, subtype, classification) in accounts {
        let a = json!({
            "Name": name, "AccountType": account_type, "AccountSubType": subtype,
            "Classification": classification, "FullyQualifiedName": name, "Active": true,
            "SubAccount": false, "CurrentBalance": 0, "CurrentBalanceWithSubAccounts": 0,
            "CurrencyRef": currency,
        });
        realm.insert_seed(EntityKind::Account, obj(a), now);
    }
    // One rate and code per model: a US single-rate code for TxnTaxCodeRef and non-US line codes.
    let rates = [
        ("California 8.25%", "8.25", "California"),
        ("20.0% S", "20", "20.0% S"),
        ("0.0% Z", "0", "0.0% Z"),
    ];
    for (rate_name, value, code_name) in rates {
        let rate_value: f64 = value.parse().unwrap_or(0.0);
        let rate = json!({"Name": rate_name, "RateValue": rate_value, "Active": true, "SpecialTaxType": "NONE", "DisplayType": "ReadOnly"});
        let rate_id = realm.insert_seed(EntityKind::TaxRate, obj(rate), now);
        let code = json!({
            "Name": code_name, "Description": code_name, "Active": true, "Taxable": true, "TaxGroup": false,
            "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": rate_id.to_string(), "name": rate_name}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]},
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        });
        realm.insert_seed(EntityKind::TaxCode, obj(code), now);
    }
    let methods = [
        ("Cash", "NON_CREDIT_CARD"),
        ("Check", "NON_CREDIT_CARD"),
        ("Visa", "CREDIT_CARD"),
        ("MasterCard", "CREDIT_CARD"),
        ("American Express", "CREDIT_CARD"),
    ];
    for (name, kind) in methods {
        realm.insert_seed(
            EntityKind::PaymentMethod,
            obj(json!({"Name": name, "Type": kind, "Active": true})),
            now,
        );
    }
}
