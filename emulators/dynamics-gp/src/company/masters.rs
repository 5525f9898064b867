//! Master records: taUpdateCreateCustomerRcd (+ taCreateCustomerAddress,
//! taCreateInternetAddresses) and taUpdateCreateItemRcd (+ currency, price list and site
//! nodes), with UpdateIfExists and the create-time requirements.

use crate::config::MasterUpdate;
use crate::fault::{Fault, FaultKind};
use crate::schema::{Node, Txn};

use super::{key, Company, Ctx, Customer, SiteQuantity, Values, View};

/// Customer fields that copy into the primary address record (CreateAddress=1).
const ADDRESS_FIELDS: [&str; 14] = [
    "CNTCPRSN", "ADDRESS1", "ADDRESS2", "ADDRESS3", "CITY", "STATE", "ZIPCODE", "CCode", "COUNTRY",
    "PHNUMBR1", "PHNUMBR2", "PHNUMBR3", "FAX", "SHIPMTHD",
];

pub(super) fn view(node: &Node) -> Result<View<'_>, Fault> {
    View::new(node).ok_or_else(|| {
        Fault::plain(
            FaultKind::Unsupported,
            format!("The node {} is not supported by this emulator.", node.name),
        )
    })
}

impl Company {
    /// RMCustomerMasterType and IVItemMasterType.
    pub(super) fn masters(&mut self, txn: &Txn, ctx: &Ctx) -> Result<(), Fault> {
        if txn.name == "IVItemMasterType"
            && ctx.validation().require_price_list_header
            && !txn
                .nodes
                .iter()
                .any(|n| n.name == "taIVCreateItemPriceListHeader")
        {
            return Err(Fault::plain(
                FaultKind::Schema,
                "The element 'IVItemMasterType' has incomplete content. List of possible elements expected: 'taIVCreateItemPriceListHeader'.",
            ));
        }
        for node in &txn.nodes {
            if !self.master_node(node, ctx)? {
                return Err(Fault::plain(
                    FaultKind::Unsupported,
                    format!("The node {} is not supported by this emulator.", node.name),
                ));
            }
        }
        Ok(())
    }

    /// One master node; false when the node is not a master node.
    pub(super) fn master_node(&mut self, node: &Node, ctx: &Ctx) -> Result<bool, Fault> {
        let v = view(node)?;
        match node.name.as_str() {
            "eConnectProcessInfo" | "taRequesterTrxDisabler" => {}
            "taUpdateCreateCustomerRcd" => self.customer(&v, ctx)?,
            "taCreateCustomerAddress" => self.customer_address(&v, ctx)?,
            "taCreateInternetAddresses" => self.internet_address(&v, ctx)?,
            "taUpdateCreateItemRcd" => self.item(&v, ctx)?,
            "taUpdateCreateItemCurrencyRcd" => {
                let currency = v.str("CURNCYID");
                if !self.has(&self.config.currencies, &currency, ctx) {
                    return Err(v.fault(
                        ctx.errors().unknown_setup_id,
                        format!("Currency ID {currency} does not exist"),
                    ));
                }
                self.item_extra(&v, ctx)?
            }
            "taIVCreateItemPriceListHeader" | "taIVCreateItemPriceListLine" => {
                self.item_extra(&v, ctx)?
            }
            "taItemSite" => {
                let site = v.str("LOCNCODE");
                if !self.has_site(&site) {
                    return Err(v.fault(
                        ctx.errors().unknown_site,
                        format!("Site ID {site} does not exist"),
                    ));
                }
                self.item_extra(&v, ctx)?;
                if let Some(item) = self.items.get_mut(&key(&v.str("ITEMNMBR"))) {
                    item.sites
                        .entry(key(&site))
                        .or_insert(SiteQuantity::default());
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn check_setup(&self, v: &View, ctx: &Ctx, fields: &[(&str, &[String])]) -> Result<(), Fault> {
        for (field, list) in fields {
            if let Some(value) = v.opt(field) {
                if !self.has(list, &value, ctx) {
                    return Err(v.fault(
                        ctx.errors().unknown_setup_id,
                        format!("{field} {value} does not exist in setup"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn flag(v: &View, field: &str, ctx: &Ctx) -> Result<(), Fault> {
        if !matches!(v.str(field).as_str(), "" | "0" | "1") {
            return Err(v.fault(
                ctx.errors().invalid_value,
                format!("{field} must be 0 or 1"),
            ));
        }
        Ok(())
    }

    fn customer(&mut self, v: &View, ctx: &Ctx) -> Result<(), Fault> {
        let number = v.str("CUSTNMBR");
        if number.is_empty() {
            return Err(v.fault(ctx.errors().missing_value, "Customer number is required"));
        }
        let exists = self.customers.contains_key(&key(&number));
        if exists && v.int("UpdateIfExists") == 0 {
            return Err(v.fault(
                ctx.errors().customer_exists,
                format!("Customer {number} already exists"),
            ));
        }
        for f in [
            "HOLD",
            "INACTIVE",
            "UseCustomerClass",
            "CreateAddress",
            "UpdateIfExists",
        ] {
            Self::flag(v, f, ctx)?;
        }
        if v.int("UseCustomerClass") == 1 && v.opt("CUSTCLAS").is_none() {
            return Err(v.fault(
                ctx.errors().missing_value,
                "UseCustomerClass=1 needs a customer class (CUSTCLAS)",
            ));
        }
        if !exists && ctx.validation().require_address_code && v.opt("ADRSCODE").is_none() {
            return Err(v.fault(
                ctx.errors().missing_value,
                "The address code (ADRSCODE) is required to create a customer",
            ));
        }
        let c = &self.config;
        self.check_setup(
            v,
            ctx,
            &[
                ("CUSTCLAS", &c.customer_classes),
                ("TAXSCHID", &c.tax_schedules),
                ("SHIPMTHD", &c.shipping_methods),
                ("PYMTRMID", &c.payment_terms),
                ("CURNCYID", &c.currencies),
                ("PRCLEVEL", &c.price_levels),
                ("CHEKBKID", &c.checkbooks),
            ],
        )?;
        let sent = v.full_values();
        let customer = self.customers.entry(key(&number)).or_default();
        customer.values = match (exists, ctx.validation().master_update) {
            (true, MasterUpdate::Merge) => {
                let mut merged = customer.values.clone();
                merged.extend(sent);
                merged
            }
            _ => sent,
        };
        if let (Some(code), "1") = (v.opt("ADRSCODE"), v.str("CreateAddress").as_str()) {
            let mut address = Values::new();
            address.insert("CUSTNMBR".into(), number.clone());
            address.insert("ADRSCODE".into(), code.clone());
            for f in ADDRESS_FIELDS {
                if let Some(val) = v.opt(f) {
                    address.insert(f.into(), val);
                }
            }
            customer.addresses.insert(key(&code), address);
        }
        if exists {
            self.counters.customers_updated += 1;
        } else {
            self.counters.customers_created += 1;
        }
        Ok(())
    }

    fn customer_address(&mut self, v: &View, ctx: &Ctx) -> Result<(), Fault> {
        let number = v.str("CUSTNMBR");
        let code = v.str("ADRSCODE");
        if code.is_empty() {
            return Err(v.fault(ctx.errors().missing_value, "Address code is required"));
        }
        let c = &self.config;
        self.check_setup(
            v,
            ctx,
            &[
                ("SHIPMTHD", &c.shipping_methods),
                ("TAXSCHID", &c.tax_schedules),
            ],
        )?;
        if let Some(site) = v.opt("LOCNCODE") {
            if !self.has_site(&site) {
                return Err(v.fault(
                    ctx.errors().unknown_site,
                    format!("Site ID {site} does not exist"),
                ));
            }
        }
        let update = v.int("UpdateIfExists") == 1;
        let merge = ctx.validation().master_update == MasterUpdate::Merge;
        let Some(customer) = self.customers.get_mut(&key(&number)) else {
            return Err(v.fault(
                ctx.errors().unknown_customer,
                format!("Customer {number} does not exist"),
            ));
        };
        let sent = v.full_values();
        match customer.addresses.get_mut(&key(&code)) {
            Some(_) if !update => {
                return Err(v.fault(
                    ctx.errors().customer_exists,
                    format!("Address {code} already exists for customer {number}"),
                ))
            }
            Some(existing) if merge => existing.extend(sent),
            _ => {
                customer.addresses.insert(key(&code), sent);
            }
        }
        Ok(())
    }

    fn internet_address(&mut self, v: &View, ctx: &Ctx) -> Result<(), Fault> {
        let master_type = v.str("Master_Type");
        let id = v.str("Master_ID");
        let address = v.str("ADRSCODE");
        let unsupported = || {
            Fault::plain(
                FaultKind::Unsupported,
                format!("Internet addresses of master type {master_type} are not supported by this emulator."),
            )
        };
        match key(&master_type).as_str() {
            "CUS" => {
                let Some(c) = self.customers.get_mut(&key(&id)) else {
                    return Err(v.fault(
                        ctx.errors().unknown_customer,
                        format!("Customer {id} does not exist"),
                    ));
                };
                c.internet.insert(key(&address), v.full_values());
            }
            "ITM" => {
                let Some(i) = self.items.get_mut(&key(&id)) else {
                    return Err(v.fault(
                        ctx.errors().unknown_item,
                        format!("Item {id} does not exist"),
                    ));
                };
                i.extras.push((v.node.name.clone(), v.full_values()));
            }
            _ => return Err(unsupported()),
        }
        Ok(())
    }

    fn item(&mut self, v: &View, ctx: &Ctx) -> Result<(), Fault> {
        let number = v.str("ITEMNMBR");
        if number.is_empty() {
            return Err(v.fault(ctx.errors().missing_value, "Item number is required"));
        }
        let exists = self.items.contains_key(&key(&number));
        if exists && v.int("UpdateIfExists") == 0 {
            return Err(v.fault(
                ctx.errors().item_exists,
                format!("Item {number} already exists"),
            ));
        }
        for f in ["ALWBKORD", "UseItemClass", "UpdateIfExists"] {
            Self::flag(v, f, ctx)?;
        }
        if v.sent("ITEMTYPE") && !(1..=6).contains(&v.int("ITEMTYPE")) {
            return Err(v.fault(ctx.errors().invalid_value, "ITEMTYPE must be 1 to 6"));
        }
        if v.sent("DECPLQTY") && !(0..=5).contains(&v.int("DECPLQTY")) {
            return Err(v.fault(
                ctx.errors().invalid_value,
                "DECPLQTY must be 0 to 5 decimal places",
            ));
        }
        let with_class = v.int("UseItemClass") == 1;
        if with_class && v.opt("ITMCLSCD").is_none() {
            return Err(v.fault(
                ctx.errors().missing_value,
                "UseItemClass=1 needs an item class (ITMCLSCD)",
            ));
        }
        if !exists {
            if v.opt("ITEMDESC").is_none() {
                return Err(v.fault(
                    ctx.errors().missing_value,
                    "The item description (ITEMDESC) is required for a new item",
                ));
            }
            if ctx.validation().require_uom_schedule && !with_class && v.opt("UOMSCHDL").is_none() {
                return Err(v.fault(
                    ctx.errors().missing_value,
                    "The unit of measure schedule (UOMSCHDL) is required for a new item",
                ));
            }
        }
        let c = &self.config;
        self.check_setup(
            v,
            ctx,
            &[
                ("UOMSCHDL", &c.uom_schedules),
                ("ITMCLSCD", &c.item_classes),
                ("ITMTSHID", &c.tax_schedules),
                ("PRCLEVEL", &c.price_levels),
            ],
        )?;
        if let Some(site) = v.opt("LOCNCODE") {
            if !self.has_site(&site) {
                return Err(v.fault(
                    ctx.errors().unknown_site,
                    format!("Site ID {site} does not exist"),
                ));
            }
        }
        let default_site = v
            .opt("LOCNCODE")
            .unwrap_or_else(|| self.config.default_site.clone());
        let sent = v.full_values();
        let merge = ctx.validation().master_update == MasterUpdate::Merge;
        let item = self.items.entry(key(&number)).or_default();
        item.values = if exists && merge {
            let mut merged = item.values.clone();
            merged.extend(sent);
            merged
        } else {
            sent
        };
        if item.tracks_quantity() {
            item.sites.entry(key(&default_site)).or_default();
        }
        if exists {
            self.counters.items_updated += 1;
        } else {
            self.counters.items_created += 1;
        }
        Ok(())
    }

    /// Nodes stored against an existing item.
    fn item_extra(&mut self, v: &View, ctx: &Ctx) -> Result<(), Fault> {
        let number = v.str("ITEMNMBR");
        let Some(item) = self.items.get_mut(&key(&number)) else {
            return Err(v.fault(
                ctx.errors().unknown_item,
                format!("Item {number} does not exist"),
            ));
        };
        item.extras.push((v.node.name.clone(), v.full_values()));
        Ok(())
    }
}

impl Customer {
    /// The primary address code (ADRSCODE of the customer record).
    pub fn primary_address(&self) -> Option<&str> {
        self.values
            .get("ADRSCODE")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}
