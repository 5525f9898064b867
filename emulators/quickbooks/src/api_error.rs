//! QuickBooks fault bodies (reference section 3): the data-service `Fault`, the gateway's
//! lower-case `fault`, and the XML bodies served for throttling and expired tokens.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One data-service fault, as returned on 4xx/5xx or inside a batch item.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub detail: String,
    pub element: String,
    pub kind: &'static str,
}

impl Fault {
    fn validation(code: &'static str, message: &str, detail: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
            detail,
            element: String::new(),
            kind: "ValidationFault",
        }
    }

    pub fn with_element(mut self, element: impl Into<String>) -> Self {
        self.element = element.into();
        self
    }

    /// 2010: unknown JSON property.
    pub fn unknown_property(field: &str, class: &str) -> Self {
        Self::validation(
            "2010",
            "Request has invalid or unsupported property",
            format!(
                "Property Name:Unrecognized field \"{field}\" (class com.intuit.schema.finance.v3.{class}), not marked as ignorable"
            ),
        )
    }

    /// 2010: a property of the wrong type.
    pub fn bad_property(field: &str, expected: &str) -> Self {
        Self::validation(
            "2010",
            "Request has invalid or unsupported property",
            format!("Property Name:Can not deserialize value of type {expected} for \"{field}\""),
        )
    }

    /// 2020: required field missing.
    pub fn required(field: &str) -> Self {
        Self::validation(
            "2020",
            "Required param missing, need to supply the required value for the API",
            format!("Required parameter {field} is missing in the request"),
        )
        .with_element(field)
    }

    /// 2050: string too long.
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::validation(
            "2050",
            "String length is either shorter or longer than supported by specification",
            format!("String length specified does not match the supported length. Length of the field exceeds {max} chars"),
        )
        .with_element(field)
    }

    /// 2500: reference to an object that does not exist.
    pub fn invalid_reference(element: &str) -> Self {
        Self::validation(
            "2500",
            "Invalid Reference Id",
            format!("Invalid Reference Id : {element}"),
        )
        .with_element(element)
    }

    /// 2500 for Category items on transaction lines.
    pub fn category_on_line() -> Self {
        Self::validation(
            "2500",
            "Invalid Reference Id",
            "Invalid Reference Id : Categories cannot be used in transactions".into(),
        )
        .with_element("Line.SalesItemLineDetail.ItemRef")
    }

    /// 610 for an inactive referent.
    pub fn inactive_reference(element: &str) -> Self {
        Self::validation(
            "610",
            "Object Not Found",
            "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.".into(),
        )
        .with_element(element)
    }

    /// 610 when reading or writing a deleted or unknown object.
    pub fn not_found() -> Self {
        Self::validation(
            "610",
            "Object Not Found",
            "Object Not Found : Another user has deleted this transaction.".into(),
        )
    }

    /// 5010: stale SyncToken.
    pub fn stale() -> Self {
        Self::validation(
            "5010",
            "Stale Object Error",
            "Stale Object Error : You and API API were working on this at the same time. API API finished before you did, so your work was not saved.".into(),
        )
    }

    /// 6240: DisplayName already used by a Customer or Vendor.
    pub fn duplicate_name() -> Self {
        Self::validation(
            "6240",
            "Duplicate Name Exists Error",
            "The name supplied already exists. : Another customer, vendor or employee is already using this name. Please use a different name.".into(),
        )
    }

    /// 6240 for list entities other than people (items, accounts, payment methods).
    pub fn duplicate_list_name(what: &str) -> Self {
        Self::validation(
            "6240",
            "Duplicate Name Exists Error",
            format!("The name supplied already exists. : Another {what} is already using this name. Please use a different name."),
        )
    }

    /// 6140: DocNumber already used.
    pub fn duplicate_doc_number() -> Self {
        Self::validation(
            "6140",
            "Duplicate Document Number Error",
            "Duplicate Document Number Error : You must specify a different number. This number has already been used.".into(),
        )
        .with_element("DocNumber")
    }

    /// 6070: Amount ≠ Qty × UnitPrice.
    pub fn amount_mismatch(supplied: &str, expected: &str) -> Self {
        Self::validation(
            "6070",
            "Amount calculation incorrect",
            format!("Amount is not equal to Qty * UnitPrice. Supplied value:{supplied}, expected:{expected}"),
        )
        .with_element("Line.Amount")
    }

    /// 6080: no name field at all on a Customer/Vendor.
    pub fn no_name() -> Self {
        Self::validation(
            "6080",
            "No Name Provided",
            "No Name Provided : Please provide at least one of Title, GivenName, MiddleName, FamilyName, Suffix or DisplayName.".into(),
        )
    }

    /// 6090: discount line without amount or percent.
    pub fn discount_missing_info() -> Self {
        Self::validation(
            "6090",
            "Discount line missing required info",
            "Discount line requires either an Amount or a DiscountPercent with PercentBased true"
                .into(),
        )
    }

    /// 6100: US line tax code other than TAX/NON.
    pub fn invalid_line_tax_code() -> Self {
        Self::validation(
            "6100",
            "Invalid line TaxCode",
            "Invalid TaxCode. Line TaxCode must be TAX or NON".into(),
        )
        .with_element("Line.SalesItemLineDetail.TaxCodeRef")
    }

    /// 6000: generic business rule.
    pub fn business(detail: impl Into<String>) -> Self {
        Self::validation(
            "6000",
            "A business validation error has occurred while processing your request",
            format!("Business Validation Error: {}", detail.into()),
        )
    }

    /// 4000: query does not parse.
    pub fn query_parse(detail: impl Into<String>) -> Self {
        Self::validation(
            "4000",
            "Error parsing query",
            format!("QueryParserError: {}", detail.into()),
        )
    }

    /// 4001: query parses but is not allowed.
    pub fn query_invalid(detail: impl Into<String>) -> Self {
        Self::validation(
            "4001",
            "Invalid query",
            format!("QueryValidationError: {}", detail.into()),
        )
    }

    /// 400 MalformedRequest (empty batch, body not JSON).
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::validation("400", "MalformedRequest", detail.into())
    }

    /// 1040: batch too large.
    pub fn batch_too_large(max: usize) -> Self {
        Self::validation(
            "1040",
            "Batch size exceeds allowed limit",
            format!("Batch size exceeds allowed limit of {max} items"),
        )
    }

    /// 500 Unsupported Operation (HTTP 400), e.g. deleting a Customer.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self::validation("500", "Unsupported Operation", detail.into())
    }

    /// 10000 SystemFault (HTTP 500).
    pub fn system() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "10000",
            message: "An application error has occurred while processing your request".into(),
            detail: "System Failure Error: An unexpected error occurred while accessing or saving your data. Please wait a few minutes and try again. If the problem persists, contact customer support.".into(),
            element: String::new(),
            kind: "SystemFault",
        }
    }

    /// The `Fault` object (no envelope), as embedded in batch items.
    pub fn body(&self) -> Value {
        json!({
            "Error": [{
                "Message": self.message,
                "Detail": self.detail,
                "code": self.code,
                "element": self.element,
            }],
            "type": self.kind,
        })
    }

    /// Full HTTP body.
    pub fn envelope(&self, time: &str) -> Value {
        json!({ "Fault": self.body(), "time": time })
    }
}

/// A finished response body plus status, as stored by the requestid cache.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiResponse {
    pub fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    pub fn fault(fault: &Fault, time: &str) -> Self {
        Self {
            status: fault.status,
            body: fault.envelope(time),
        }
    }
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=UTF-8"),
        );
        response
    }
}

/// 429 ThrottleExceeded, JSON or XML.
pub fn throttle_response(xml: bool, time: &str, retry_after: Option<u64>) -> Response {
    let mut response = if xml {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<IntuitResponse xmlns=\"http://schema.intuit.com/finance/v3\" time=\"{time}\"><Fault type=\"SERVICE\"><Error code=\"3001\"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail></Error></Fault></IntuitResponse>"
        );
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response()
    } else {
        let body = json!({
            "Fault": {
                "Error": [{
                    "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    "Detail": "The request limit was reached.  Try again later",
                    "code": "3001",
                }],
                "type": "SERVICE",
            },
            "time": time,
        });
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
    };
    if let Some(secs) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// 503 from the gateway.
pub fn unavailable_response() -> Response {
    let body = "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>";
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html")],
        body,
    )
        .into_response()
}

/// 401 from the gateway: lower-case JSON envelope, or the XML code-100 body.
pub fn unauthorized_response(xml: bool, detail: &str, epoch_millis: i64) -> Response {
    if xml {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<IntuitResponse xmlns=\"http://schema.intuit.com/finance/v3\"><Fault type=\"AUTHENTICATION\"><Error code=\"100\"><Message>General Authentication Error</Message><Detail>AuthenticationErrorGeneral: SRV-110-Authentication Failure </Detail></Error></Fault></IntuitResponse>";
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response();
    }
    let body = gateway_fault(
        "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        detail,
        "3200",
        "AUTHENTICATION",
        epoch_millis,
    );
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"Intuit\", error=\"invalid_token\""),
    );
    response
}

/// 403 from the gateway (token for another realm, revoked app).
pub fn forbidden_response(detail: &str, epoch_millis: i64) -> Response {
    let body = gateway_fault(
        "message=AuthorizationFailed; errorCode=003100; statusCode=403",
        detail,
        "3100",
        "AUTHORIZATION",
        epoch_millis,
    );
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

fn gateway_fault(message: &str, detail: &str, code: &str, kind: &str, epoch_millis: i64) -> Value {
    json!({
        "warnings": null,
        "intuitObject": null,
        "fault": {
            "error": [{ "message": message, "detail": detail, "code": code, "element": null }],
            "type": kind,
        },
        "report": null,
        "queryResponse": null,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": null,
        "requestId": null,
        "time": epoch_millis,
        "status": null,
        "cdcresponse": [],
    })
}
