//! Column lengths of string elements (reference B4: MSDN node pages and `char(n)`
//! procedure parameters, GP 10–18). Elements not listed are not length-checked.

/// Maximum characters of `field` in `node`.
pub fn max_len(node: &str, field: &str) -> Option<usize> {
    if let Some(n) = per_node(node, field) {
        return Some(n);
    }
    Some(match field {
        "CUSTNMBR" | "SHRTNAME" | "CUSTCLAS" | "ADRSCODE" | "SHIPMTHD" | "TAXSCHID"
        | "SLPRSNID" | "SALSTERR" | "PRSTADCD" | "PRBTADCD" | "STADDRCD" | "CHEKBKID"
        | "CURNCYID" | "RATETPID" | "CRCARDID" | "ITMSHNAM" | "ITMTSHID" | "DOCID" | "BACHNUMB"
        | "FRTSCHID" | "MSCSCHID" | "COMMNTID" | "TAXDTLID" | "CARDNAME" | "AUTHCODE"
        | "MDFUSRID" | "Reason_Code" => 15,
        "CUSTNAME" | "STMTNAME" | "ShipToName" | "ORMSTRNM" => 64,
        "CNTCPRSN" | "ADDRESS1" | "ADDRESS2" | "ADDRESS3" | "COUNTRY" => 60,
        "CITY" => 35,
        "STATE" => 29,
        "ZIPCODE" | "PRCLEVEL" | "LOCNCODE" | "TRXLOCTN" | "UOMSCHDL" | "ITMCLSCD" | "ITMGEDSC" => {
            10
        }
        "CCode" => 6,
        "PHNUMBR1" | "PHNUMBR2" | "PHNUMBR3" | "FAX" | "FAXNUMBR" | "PHONE1" | "PHONE2"
        | "PHONE3" => 21,
        "PYMTRMID" | "CSTPONBR" | "CHEKNMBR" | "RCTNCCRD" | "DOCNUMBR" | "USERDEF1"
        | "USERDEF2" | "ORDOCNUM" | "ORCTRNUM" => 20,
        "TAXEXMT1" | "TAXEXMT2" | "TXRGNNUM" => 25,
        "COMMENT1" | "COMMENT2" | "REFRENCE" | "DSCRIPTN" | "GPSFOINTEGRATIONID"
        | "INTEGRATIONID" | "Master_ID" | "ORMSTRID" | "ITEMNMBR" => 30,
        "COMMENT_1" | "COMMENT_2" | "COMMENT_3" | "COMMENT_4" | "USRDEFND1" | "USRDEFND2"
        | "USRDEFND3" => 50,
        "ITEMDESC" => 100,
        "UPSZONE" | "Master_Type" => 3,
        "SOPNUMBE" | "ORIGNUMB" => 21,
        "IVDOCNBR" => 17,
        "UOFM" => 8,
        "Tracking_Number" => 40,
        "ACTNUMST" | "TAXACTNUMST" => 75,
        "INET1" | "INET2" | "INET3" | "INET4" | "INET5" | "INET6" | "INET7" | "INET8" => 200,
        "CMMTTEXT" => 500,
        "INETINFO" | "EmailToAddress" | "EmailCcAddress" | "EmailBccAddress" => 1000,
        "NOTETEXT" | "USRDEFND4" | "USRDEFND5" => 8000,
        _ => return None,
    })
}

fn per_node(node: &str, field: &str) -> Option<usize> {
    match (node, field) {
        // The comment ID on a customer is the customer comment, not a SOP comment ID.
        ("taUpdateCreateCustomerRcd", "COMMENT1" | "COMMENT2") => Some(30),
        _ => None,
    }
}

/// Applies the lengths to every node: over-length strings are an error or cut, per setting.
pub fn enforce(
    txns: &mut [crate::schema::Txn],
    config: &crate::config::EmulatorConfig,
) -> Result<(), crate::fault::Fault> {
    use crate::config::OverLength;
    for txn in txns.iter_mut() {
        for node in txn.nodes.iter_mut() {
            let mut too_long = None;
            for (field, value) in node.values.iter_mut() {
                let Some(max) = max_len(&node.name, field) else {
                    continue;
                };
                if value.chars().count() <= max {
                    continue;
                }
                match config.validation.over_length {
                    OverLength::Truncate => *value = value.chars().take(max).collect(),
                    OverLength::Reject => {
                        too_long = Some(format!(
                            "{field} is longer than {max} characters ({} given)",
                            value.chars().count()
                        ));
                        break;
                    }
                }
            }
            if let Some(description) = too_long {
                return Err(crate::fault::Fault::procedure(
                    config.errors.field_too_long,
                    &node.name,
                    description,
                    &node.values,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_lengths_match_the_brief() {
        for (field, len) in [
            ("CUSTNMBR", 15),
            ("ITEMNMBR", 30),
            ("SOPNUMBE", 21),
            ("DOCID", 15),
            ("LOCNCODE", 10),
            ("BACHNUMB", 15),
        ] {
            assert_eq!(max_len("taSopHdrIvcInsert", field), Some(len), "{field}");
        }
        assert_eq!(max_len("taSopHdrIvcInsert", "SUBTOTAL"), None);
    }
}
