//! Entity kinds, their known properties (unknown ones are rejected with 2010, like QBO's strict
//! deserializer) and the per-kind normalisation in the submodules.

pub mod bill;
pub mod names;
pub mod payment;
pub mod sales;

use serde_json::Value;

use crate::api_error::Fault;
use crate::json::Object;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Customer,
    Vendor,
    Item,
    Account,
    TaxCode,
    TaxRate,
    PaymentMethod,
    Invoice,
    SalesReceipt,
    Payment,
    CreditMemo,
    RefundReceipt,
    Bill,
}

impl EntityKind {
    pub const ALL: [EntityKind; 13] = [
        Self::Customer,
        Self::Vendor,
        Self::Item,
        Self::Account,
        Self::TaxCode,
        Self::TaxRate,
        Self::PaymentMethod,
        Self::Invoice,
        Self::SalesReceipt,
        Self::Payment,
        Self::CreditMemo,
        Self::RefundReceipt,
        Self::Bill,
    ];

    /// Name as used in JSON keys, queries and webhooks.
    pub fn name(self) -> &'static str {
        match self {
            Self::Customer => "Customer",
            Self::Vendor => "Vendor",
            Self::Item => "Item",
            Self::Account => "Account",
            Self::TaxCode => "TaxCode",
            Self::TaxRate => "TaxRate",
            Self::PaymentMethod => "PaymentMethod",
            Self::Invoice => "Invoice",
            Self::SalesReceipt => "SalesReceipt",
            Self::Payment => "Payment",
            Self::CreditMemo => "CreditMemo",
            Self::RefundReceipt => "RefundReceipt",
            Self::Bill => "Bill",
        }
    }

    /// Case-insensitive lookup by name or URL segment (`salesreceipt`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(text))
    }

    /// Name lists are deactivated rather than deleted and are filtered by `Active` in queries.
    pub fn is_name_list(self) -> bool {
        matches!(
            self,
            Self::Customer
                | Self::Vendor
                | Self::Item
                | Self::Account
                | Self::TaxCode
                | Self::TaxRate
                | Self::PaymentMethod
        )
    }

    pub fn is_transaction(self) -> bool {
        !self.is_name_list()
    }

    pub fn is_sales_form(self) -> bool {
        matches!(
            self,
            Self::Invoice | Self::SalesReceipt | Self::CreditMemo | Self::RefundReceipt
        )
    }

    /// Writable through `POST /{entity}` (tax codes need the tax service).
    pub fn is_writable(self) -> bool {
        !matches!(self, Self::TaxCode | Self::TaxRate)
    }

    /// Void is offered for these.
    pub fn can_void(self) -> bool {
        matches!(
            self,
            Self::Invoice
                | Self::SalesReceipt
                | Self::Payment
                | Self::CreditMemo
                | Self::RefundReceipt
        )
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Customer => CUSTOMER,
            Self::Vendor => VENDOR,
            Self::Item => ITEM,
            Self::Account => ACCOUNT,
            Self::TaxCode => TAX_CODE,
            Self::TaxRate => TAX_RATE,
            Self::PaymentMethod => PAYMENT_METHOD,
            Self::Invoice | Self::SalesReceipt | Self::CreditMemo | Self::RefundReceipt => {
                SALES_FORM
            }
            Self::Payment => PAYMENT,
            Self::Bill => BILL,
        }
    }

    /// Fields a query may filter or sort on (others → 4001).
    pub fn filterable(self, field: &str, cfg: &crate::config::QueryConfig) -> bool {
        let common = ["Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime"];
        if common.contains(&field) {
            return true;
        }
        let list: &[&str] = match self {
            Self::Customer => {
                if field == "PrimaryEmailAddr" {
                    return cfg.customer_email_filterable;
                }
                &[
                    "DisplayName",
                    "GivenName",
                    "FamilyName",
                    "MiddleName",
                    "CompanyName",
                    "FullyQualifiedName",
                    "Active",
                    "Balance",
                    "PrintOnCheckName",
                    "Job",
                    "ParentRef",
                ]
            }
            Self::Vendor => {
                if field == "PrimaryEmailAddr" {
                    return cfg.vendor_email_filterable;
                }
                &[
                    "DisplayName",
                    "GivenName",
                    "FamilyName",
                    "MiddleName",
                    "CompanyName",
                    "Active",
                    "Balance",
                    "PrintOnCheckName",
                ]
            }
            Self::Item => &[
                "Name",
                "Sku",
                "Type",
                "Active",
                "FullyQualifiedName",
                "UnitPrice",
                "QtyOnHand",
                "ParentRef",
            ],
            Self::Account => &[
                "Name",
                "AccountType",
                "AccountSubType",
                "Classification",
                "Active",
                "FullyQualifiedName",
                "CurrentBalance",
            ],
            Self::TaxCode | Self::TaxRate => &["Name", "Active"],
            Self::PaymentMethod => &["Name", "Type", "Active"],
            Self::Invoice | Self::CreditMemo => &[
                "DocNumber",
                "TxnDate",
                "CustomerRef",
                "TotalAmt",
                "Balance",
                "DueDate",
            ],
            Self::SalesReceipt | Self::RefundReceipt => {
                &["DocNumber", "TxnDate", "CustomerRef", "TotalAmt"]
            }
            Self::Payment => &["TxnDate", "CustomerRef", "TotalAmt"],
            Self::Bill => &[
                "DocNumber",
                "TxnDate",
                "VendorRef",
                "TotalAmt",
                "Balance",
                "DueDate",
            ],
        };
        list.contains(&field)
    }
}

const BASE: &[&str] = &[
    "Id",
    "SyncToken",
    "MetaData",
    "domain",
    "status",
    "sparse",
    "CustomField",
    "AttachableRef",
];

const PERSON: &[&str] = &[
    "DisplayName",
    "Title",
    "GivenName",
    "MiddleName",
    "FamilyName",
    "Suffix",
    "CompanyName",
    "FullyQualifiedName",
    "PrintOnCheckName",
    "PrimaryEmailAddr",
    "PrimaryPhone",
    "Mobile",
    "Fax",
    "AlternatePhone",
    "WebAddr",
    "OtherContactInfo",
    "BillAddr",
    "Notes",
    "Active",
    "CurrencyRef",
    "Balance",
    "OpenBalanceDate",
    "V4IDPseudonym",
    "GSTIN",
    "BusinessNumber",
    "GSTRegistrationType",
];

const CUSTOMER: &[&str] = &[
    "ShipAddr",
    "OtherAddr",
    "Taxable",
    "DefaultTaxCodeRef",
    "TaxExemptionReasonId",
    "PaymentMethodRef",
    "SalesTermRef",
    "ARAccountRef",
    "PreferredDeliveryMethod",
    "ResaleNum",
    "Job",
    "ParentRef",
    "BillWithParent",
    "Level",
    "BalanceWithJobs",
    "PrimaryTaxIdentifier",
    "SecondaryTaxIdentifier",
    "IsProject",
    "ClientEntityId",
    "CustomerTypeRef",
];

const VENDOR: &[&str] = &[
    "TaxIdentifier",
    "AcctNum",
    "Vendor1099",
    "TermRef",
    "APAccountRef",
    "BillRate",
    "CostRate",
    "T4AEligible",
    "T5018Eligible",
    "HasTPAR",
    "TaxReportingBasis",
    "VendorPaymentBankDetail",
];

const ITEM: &[&str] = &[
    "Name",
    "Type",
    "Sku",
    "Description",
    "UnitPrice",
    "IncomeAccountRef",
    "ExpenseAccountRef",
    "AssetAccountRef",
    "TrackQtyOnHand",
    "QtyOnHand",
    "InvStartDate",
    "PurchaseDesc",
    "PurchaseCost",
    "Taxable",
    "SalesTaxIncluded",
    "PurchaseTaxIncluded",
    "SalesTaxCodeRef",
    "PurchaseTaxCodeRef",
    "Active",
    "ParentRef",
    "SubItem",
    "Level",
    "FullyQualifiedName",
    "QtyOnPurchaseOrder",
    "QtyOnSalesOrder",
    "AvgCost",
    "ReorderPoint",
    "PrefVendorRef",
    "ClassRef",
    "ItemCategoryType",
    "TaxClassificationRef",
    "AbatementRate",
    "ReverseChargeRate",
    "ServiceType",
];

const ACCOUNT: &[&str] = &[
    "Name",
    "AcctNum",
    "AccountType",
    "AccountSubType",
    "Classification",
    "Description",
    "Active",
    "SubAccount",
    "ParentRef",
    "FullyQualifiedName",
    "CurrentBalance",
    "CurrentBalanceWithSubAccounts",
    "CurrencyRef",
    "TaxCodeRef",
    "AccountAlias",
    "TxnLocationType",
];

const TAX_CODE: &[&str] = &[
    "Name",
    "Description",
    "Active",
    "Taxable",
    "TaxGroup",
    "SalesTaxRateList",
    "PurchaseTaxRateList",
    "Hidden",
];
const TAX_RATE: &[&str] = &[
    "Name",
    "Description",
    "Active",
    "RateValue",
    "AgencyRef",
    "TaxReturnLineRef",
    "SpecialTaxType",
    "DisplayType",
    "EffectiveTaxRate",
];
const PAYMENT_METHOD: &[&str] = &["Name", "Active", "Type"];

const TRANSACTION: &[&str] = &[
    "DocNumber",
    "TxnDate",
    "DepartmentRef",
    "CurrencyRef",
    "ExchangeRate",
    "PrivateNote",
    "TxnStatus",
    "LinkedTxn",
    "Line",
    "TxnTaxDetail",
    "TxnSource",
    "TaxFormType",
    "TaxFormNum",
    "TransactionLocationType",
    "TotalAmt",
    "HomeTotalAmt",
    "GlobalTaxCalculation",
    "RecurDataRef",
    "ProjectRef",
];

const SALES_FORM: &[&str] = &[
    "CustomerRef",
    "CustomerMemo",
    "BillAddr",
    "ShipAddr",
    "ShipFromAddr",
    "FreeFormAddress",
    "ClassRef",
    "SalesTermRef",
    "DueDate",
    "ShipMethodRef",
    "ShipDate",
    "TrackingNum",
    "PrintStatus",
    "EmailStatus",
    "BillEmail",
    "BillEmailCc",
    "BillEmailBcc",
    "ApplyTaxAfterDiscount",
    "Balance",
    "HomeBalance",
    "DeliveryInfo",
    "DepositToAccountRef",
    "PaymentMethodRef",
    "PaymentRefNum",
    "PaymentType",
    "CreditCardPayment",
    "CheckPayment",
    "AllowIPNPayment",
    "AllowOnlinePayment",
    "AllowOnlineCreditCardPayment",
    "AllowOnlineACHPayment",
    "Deposit",
    "InvoiceLink",
    "RemainingCredit",
    "ARAccountRef",
    "TaxExemptionRef",
    "ShippingTaxIncludedInTotalTax",
    "EInvoiceStatus",
];

const PAYMENT: &[&str] = &[
    "CustomerRef",
    "UnappliedAmt",
    "DepositToAccountRef",
    "PaymentMethodRef",
    "PaymentRefNum",
    "ARAccountRef",
    "ProcessPayment",
    "CreditCardPayment",
    "TaxExemptionRef",
];

const BILL: &[&str] = &[
    "VendorRef",
    "APAccountRef",
    "SalesTermRef",
    "DueDate",
    "Balance",
    "HomeBalance",
    "VendorAddr",
    "RemitToAddr",
    "ShipAddr",
    "IncludeInAnnualTPAR",
];

const LINE: &[&str] = &[
    "Id",
    "LineNum",
    "Description",
    "Amount",
    "DetailType",
    "LinkedTxn",
    "CustomField",
    "ProjectRef",
    "SalesItemLineDetail",
    "DiscountLineDetail",
    "SubTotalLineDetail",
    "DescriptionLineDetail",
    "GroupLineDetail",
    "TaxLineDetail",
    "PaymentLineDetail",
    "ItemBasedExpenseLineDetail",
    "AccountBasedExpenseLineDetail",
    "LineEx",
];

const DETAILS: &[(&str, &[&str])] = &[
    (
        "SalesItemLineDetail",
        &[
            "ItemRef",
            "Qty",
            "UnitPrice",
            "TaxCodeRef",
            "ServiceDate",
            "ClassRef",
            "DiscountRate",
            "DiscountAmt",
            "TaxInclusiveAmt",
            "ItemAccountRef",
            "MarkupInfo",
            "PriceLevelRef",
            "RatePercent",
            "TaxClassificationRef",
        ],
    ),
    (
        "DiscountLineDetail",
        &[
            "PercentBased",
            "DiscountPercent",
            "DiscountAccountRef",
            "TaxCodeRef",
            "ClassRef",
            "ServiceDate",
            "Discount",
        ],
    ),
    (
        "ItemBasedExpenseLineDetail",
        &[
            "ItemRef",
            "Qty",
            "UnitPrice",
            "TaxCodeRef",
            "BillableStatus",
            "CustomerRef",
            "ClassRef",
            "TaxInclusiveAmt",
            "MarkupInfo",
            "PriceLevelRef",
        ],
    ),
    (
        "AccountBasedExpenseLineDetail",
        &[
            "AccountRef",
            "TaxCodeRef",
            "TaxAmount",
            "BillableStatus",
            "CustomerRef",
            "ClassRef",
            "TaxInclusiveAmt",
            "MarkupInfo",
        ],
    ),
];

const TXN_TAX_DETAIL: &[&str] = &[
    "TxnTaxCodeRef",
    "TotalTax",
    "TaxLine",
    "TaxReviewStatus",
    "UseAutomatedSalesTax",
    "DefaultTaxCodeRef",
];

const LINKED_TXN: &[&str] = &["TxnId", "TxnType", "TxnLineId"];

/// Rejects properties the entity's schema does not have (2010), down to line details.
pub fn check_properties(kind: EntityKind, obj: &Object) -> Result<(), Fault> {
    let extra: &[&str] = if kind.is_transaction() {
        TRANSACTION
    } else {
        &[]
    };
    let person: &[&str] = if matches!(kind, EntityKind::Customer | EntityKind::Vendor) {
        PERSON
    } else {
        &[]
    };
    for key in obj.keys() {
        let known = BASE.contains(&key.as_str())
            || kind.fields().contains(&key.as_str())
            || extra.contains(&key.as_str())
            || person.contains(&key.as_str());
        if !known {
            return Err(Fault::unknown_property(key, kind.name()));
        }
    }
    if let Some(lines) = obj.get("Line") {
        let lines = lines
            .as_array()
            .ok_or_else(|| Fault::bad_property("Line", "java.util.ArrayList"))?;
        for line in lines {
            let line = line
                .as_object()
                .ok_or_else(|| Fault::bad_property("Line", "com.intuit.schema.finance.v3.Line"))?;
            check_keys(line, LINE, "Line")?;
            for (detail, fields) in DETAILS {
                if let Some(d) = line.get(*detail) {
                    let d = d
                        .as_object()
                        .ok_or_else(|| Fault::bad_property(detail, detail))?;
                    check_keys(d, fields, detail)?;
                }
            }
            if let Some(linked) = line.get("LinkedTxn") {
                check_linked(linked)?;
            }
        }
    }
    if let Some(detail) = obj.get("TxnTaxDetail") {
        let detail = detail
            .as_object()
            .ok_or_else(|| Fault::bad_property("TxnTaxDetail", "TxnTaxDetail"))?;
        check_keys(detail, TXN_TAX_DETAIL, "TxnTaxDetail")?;
    }
    if let Some(linked) = obj.get("LinkedTxn") {
        check_linked(linked)?;
    }
    Ok(())
}

fn check_linked(linked: &Value) -> Result<(), Fault> {
    let list = linked
        .as_array()
        .ok_or_else(|| Fault::bad_property("LinkedTxn", "java.util.ArrayList"))?;
    for l in list {
        let l = l
            .as_object()
            .ok_or_else(|| Fault::bad_property("LinkedTxn", "LinkedTxn"))?;
        check_keys(l, LINKED_TXN, "LinkedTxn")?;
    }
    Ok(())
}

fn check_keys(obj: &Object, allowed: &[&str], class: &str) -> Result<(), Fault> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Fault::unknown_property(k, class)),
        None => Ok(()),
    }
}

/// Output-only fields dropped from input before validation (QBO ignores them).
pub const READ_ONLY: &[&str] = &[
    "MetaData",
    "domain",
    "status",
    "FullyQualifiedName",
    "Level",
    "BalanceWithJobs",
    "V4IDPseudonym",
    "HomeTotalAmt",
    "HomeBalance",
    "UnappliedAmt",
    "RemainingCredit",
    "InvoiceLink",
    "QtyOnPurchaseOrder",
    "QtyOnSalesOrder",
    "AvgCost",
    "CurrentBalance",
    "CurrentBalanceWithSubAccounts",
];
