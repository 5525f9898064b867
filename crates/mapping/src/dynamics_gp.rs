//! The mapping config's `dynamics_gp:` section as the options GP documents carry
//! (`DynamicsGpOptions` on `PostSale` and `PostRefund`). Nothing for other targets, or when
//! the section is absent: the GP connection's own settings then apply.
use crate::config::{ConnectionConfig, Target};
use crate::pb::commands::{DynamicsGpOptions, GpJournal};

/// SOPTYPE of a GP return.
const RETURN: i32 = 4;

/// Options of a sale dated `txn_date` ("YYYY-MM-DD").
pub(crate) fn sale(cfg: &ConnectionConfig, txn_date: &str) -> Option<DynamicsGpOptions> {
    let gp = section(cfg)?;
    let sop_type = gp.sale_document.map_or(0, |d| d.sop_type());
    let doc_id = match gp.sale_document {
        Some(crate::config::GpSaleDocument::Invoice) => gp.doc_ids.invoice.clone(),
        Some(crate::config::GpSaleDocument::Order) => gp.doc_ids.order.clone(),
        None => None,
    };
    Some(DynamicsGpOptions {
        sop_type,
        doc_id: doc_id.unwrap_or_default(),
        site: gp.site.clone().unwrap_or_default(),
        batch_number: batch(gp.batch_prefix.as_deref(), txn_date),
        sale_sop_type: 0,
        journal: None,
    })
}

/// Options of a daily summary of `store_method`'s takings: a sale's, plus the journal's
/// accounts when `dynamics_gp.journal` posts summaries as GL journals.
pub(crate) fn summary(
    cfg: &ConnectionConfig,
    txn_date: &str,
    store_method: &str,
) -> Option<DynamicsGpOptions> {
    let mut options = sale(cfg, txn_date)?;
    options.journal = section(cfg)?.journal.as_ref().map(|j| GpJournal {
        clearing_account: j
            .clearing_accounts
            .get(store_method)
            .or(j.clearing_account.as_ref())
            .cloned()
            .unwrap_or_default(),
        tax_accounts: j
            .tax_accounts
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        tax_account: j.tax_account.clone().unwrap_or_default(),
    });
    Some(options)
}

/// Options of a return dated `txn_date`.
pub(crate) fn r#return(cfg: &ConnectionConfig, txn_date: &str) -> Option<DynamicsGpOptions> {
    let gp = section(cfg)?;
    Some(DynamicsGpOptions {
        sop_type: RETURN,
        doc_id: gp.doc_ids.r#return.clone().unwrap_or_default(),
        site: gp.site.clone().unwrap_or_default(),
        batch_number: batch(gp.batch_prefix.as_deref(), txn_date),
        sale_sop_type: gp.sale_document.map_or(0, |d| d.sop_type()),
        journal: None,
    })
}

fn section(cfg: &ConnectionConfig) -> Option<&crate::config::DynamicsGpConfig> {
    match cfg.target {
        Target::DynamicsGp => cfg.dynamics_gp.as_ref(),
        _ => None,
    }
}

/// Prefix + the date's digits (at most 7 + 8 = 15, BACHNUMB's length; the prefix length is
/// checked at load). Empty without a prefix or a date: the connection's batch then applies.
fn batch(prefix: Option<&str>, txn_date: &str) -> String {
    let digits: String = txn_date.chars().filter(char::is_ascii_digit).collect();
    match prefix {
        Some(p) if digits.len() == 8 => format!("{p}{digits}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::batch;

    #[test]
    fn the_batch_is_prefix_and_date_digits() {
        assert_eq!(batch(Some("WEBUK"), "2026-11-20"), "WEBUK20261120");
        assert_eq!(batch(Some("WEBUK"), ""), "");
        assert_eq!(batch(None, "2026-11-20"), "");
    }
}
