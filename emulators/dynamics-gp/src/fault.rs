//! eConnect errors: `Error Number = N  Stored Procedure= X  Error Description = Y` followed
//! by the node's identifying parameters, plus schema-validation and auth failures of the
//! HTTP shim.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::xml::Element;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// A stored-procedure error with its number (400).
    Procedure {
        number: i32,
        procedure: String,
    },
    /// The document does not match the schema (400).
    Schema,
    /// eConnect cannot process the document at all (400), e.g. an unsupported type.
    Unsupported,
    /// The shim's own authentication (401).
    Unauthorized,
    /// Unknown company database (404).
    UnknownCompany,
    Throttled {
        retry_after: u64,
    },
    Unavailable,
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Fault {
    pub kind: FaultKind,
    pub description: String,
    /// "Node Identifier Parameters" of the failing node.
    pub params: Vec<(String, String)>,
}

/// The fields that identify a node in an error message.
const IDENTIFIERS: [&str; 13] = [
    "SOPTYPE", "SOPNUMBE", "IVDOCTYP", "IVDOCNBR", "CUSTNMBR", "ITEMNMBR", "TRXLOCTN", "LNITMSEQ",
    "ADRSCODE", "DOCNUMBR", "BACHNUMB", "JRNENTRY", "ACTNUMST",
];

impl Fault {
    pub fn procedure(
        number: i32,
        procedure: &str,
        description: impl Into<String>,
        values: &BTreeMap<String, String>,
    ) -> Self {
        let params = IDENTIFIERS
            .iter()
            .filter_map(|k| values.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        Self {
            kind: FaultKind::Procedure {
                number,
                procedure: procedure.to_string(),
            },
            description: description.into(),
            params,
        }
    }

    pub fn plain(kind: FaultKind, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
            params: Vec::new(),
        }
    }

    pub fn number(&self) -> Option<i32> {
        match &self.kind {
            FaultKind::Procedure { number, .. } => Some(*number),
            _ => None,
        }
    }

    /// The text eConnect puts in the exception message.
    pub fn message(&self) -> String {
        match &self.kind {
            FaultKind::Procedure { number, procedure } => {
                let mut m = format!(
                    "Error Number = {number}  Stored Procedure= {procedure}  Error Description = {}",
                    self.description
                );
                m.push_str(&format!("\nNode Identifier Parameters: {procedure}"));
                for (k, v) in &self.params {
                    m.push_str(&format!("\n{k} = {v}"));
                }
                m
            }
            _ => self.description.clone(),
        }
    }

    fn status(&self) -> StatusCode {
        match self.kind {
            FaultKind::Procedure { .. } | FaultKind::Schema | FaultKind::Unsupported => {
                StatusCode::BAD_REQUEST
            }
            FaultKind::Unauthorized => StatusCode::UNAUTHORIZED,
            FaultKind::UnknownCompany => StatusCode::NOT_FOUND,
            FaultKind::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            FaultKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            FaultKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn exception_type(&self) -> &'static str {
        match self.kind {
            FaultKind::Procedure { .. } | FaultKind::Unsupported => "eConnectException",
            FaultKind::Schema => "XmlSchemaValidationException",
            FaultKind::Unauthorized => "UnauthorizedAccessException",
            FaultKind::UnknownCompany => "eConnectSqlException",
            FaultKind::Throttled { .. } | FaultKind::Unavailable => "ServiceUnavailable",
            FaultKind::Internal => "Exception",
        }
    }

    /// `<eConnectFault>` with ExceptionType, ErrorNumber, StoredProcedure, ErrorDescription
    /// and Message.
    pub fn to_xml(&self) -> String {
        let leaf = |name: &str, text: String| Element {
            name: name.to_string(),
            text,
            ..Element::default()
        };
        let mut children = vec![leaf("ExceptionType", self.exception_type().into())];
        if let FaultKind::Procedure { number, procedure } = &self.kind {
            children.push(leaf("ErrorNumber", number.to_string()));
            children.push(leaf("StoredProcedure", procedure.clone()));
        }
        children.push(leaf("ErrorDescription", self.description.clone()));
        children.push(leaf("Message", self.message()));
        Element {
            name: "eConnectFault".into(),
            children,
            ..Element::default()
        }
        .to_xml()
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let mut r = (
            self.status(),
            [(
                axum::http::header::CONTENT_TYPE,
                "application/xml; charset=utf-8",
            )],
            self.to_xml(),
        )
            .into_response();
        if let FaultKind::Throttled { retry_after } = self.kind {
            if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_has_the_econnect_shape() {
        let mut values = BTreeMap::new();
        values.insert("SOPNUMBE".to_string(), "WEB100457".to_string());
        values.insert("SOPTYPE".to_string(), "3".to_string());
        values.insert("SUBTOTAL".to_string(), "1".to_string());
        let f = Fault::procedure(
            67,
            "taSopHdrIvcInsert",
            "Subtotal does not match the line item totals",
            &values,
        );
        assert_eq!(
            f.message(),
            "Error Number = 67  Stored Procedure= taSopHdrIvcInsert  Error Description = Subtotal does not match the line item totals\nNode Identifier Parameters: taSopHdrIvcInsert\nSOPTYPE = 3\nSOPNUMBE = WEB100457"
        );
        assert!(f.to_xml().contains("<ErrorNumber>67</ErrorNumber>"));
    }
}
