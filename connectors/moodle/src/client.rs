//! Calls to Moodle's web services and Moodle's HTTP-200 exceptions as connector errors.
//!
//! Every call is a form-encoded `POST {endpoint}/webservice/rest/server.php` with
//! `wsfunction`, `moodlewsrestformat=json` and the function's parameters flattened PHP-style
//! (`options[0][name]=limitfrom`); the SDK adds `wstoken` to the form body
//! ([`tributary_connector::Auth::ApiKeyQuery`] on a form request), so the token never appears
//! in a URL or an access log. Moodle answers errors with HTTP 200 and
//! `{"exception", "errorcode", "message", "debuginfo"?}`: [`classify`] maps them to the error
//! classes retries key on.

use serde_json::Value;
use tributary_connector::{ConnectorError, HttpClient, HttpRequest};

/// The REST entry point under the site URL.
pub const SERVER_PATH: &str = "/webservice/rest/server.php";

/// An exception Moodle answered instead of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The PHP exception class (`moodle_exception`, `webservice_access_exception`…).
    pub class: String,
    /// Moodle's error code (`invalidtoken`, `nocriteriaset`…).
    pub errorcode: String,
    /// The message, and the debug info when the site sends it.
    pub message: String,
}

/// The error codes that mean the token (or its user) is refused.
const AUTH_CODES: [&str; 6] = [
    "invalidtoken",
    "accessexception",
    "requireloginerror",
    "nopermissions",
    "servicerequireslogin",
    "usernotfullysetup",
];

/// The error codes that mean a request Moodle cannot take as sent: a parameter it refuses or
/// a function or record the site does not have.
const REQUEST_CODES: [&str; 3] = ["invalidparameter", "invalidrecord", "codingerror"];

impl Exception {
    /// The exception in `body`, when it is one.
    pub fn of(body: &Value) -> Option<Self> {
        let class = body.get("exception")?.as_str()?.to_owned();
        let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
        let mut message = text("message").to_owned();
        if !text("debuginfo").is_empty() {
            message = format!("{message} ({})", text("debuginfo"));
        }
        Some(Self {
            class,
            errorcode: text("errorcode").to_owned(),
            message,
        })
    }
}

/// The connector error for `e`, answered by `function` at `url` for connector `instance`: a
/// refused token or missing capability is an auth error; a refused parameter, unknown
/// function or missing record a configuration error (the site does not offer what the
/// connector asks for, or a parameter is out of its range); anything else a fatal error of
/// the request (never a decode failure: the answer decoded fine).
pub fn classify(e: &Exception, function: &str, url: &str, instance: &str) -> ConnectorError {
    let said = format!("{}: {}", e.errorcode, e.message);
    if AUTH_CODES.contains(&e.errorcode.as_str()) {
        ConnectorError::Auth {
            url: format!("{url} ({function})"),
            status: 200,
            body: said,
            token_for: None,
        }
    } else if REQUEST_CODES.contains(&e.errorcode.as_str()) {
        ConnectorError::config(
            instance,
            format!("Moodle refused `{function}`: {said} ({})", e.class),
        )
    } else {
        ConnectorError::Http {
            url: format!("{url} ({function})"),
            status: 200,
            body: format!("{} {said}", e.class),
        }
    }
}

/// The answer of one function call: the result, or the exception Moodle sent.
pub type Answer = Result<Value, Exception>;

/// A client for one site.
#[derive(Debug, Clone)]
pub struct Moodle {
    /// The HTTP client, authenticating with the token.
    pub http: HttpClient,
    /// `{endpoint}/webservice/rest/server.php`.
    pub url: String,
    /// The connector instance, for error messages.
    pub instance: String,
}

impl Moodle {
    /// Calls `function` with `params`; a Moodle exception is returned as the inner error,
    /// for the caller to decide (a per-course `nocriteriaset` is not a failure).
    pub async fn try_call(
        &self,
        function: &str,
        params: &[(String, String)],
    ) -> Result<Answer, ConnectorError> {
        let mut form = vec![
            ("wsfunction".to_owned(), function.to_owned()),
            ("moodlewsrestformat".to_owned(), "json".to_owned()),
        ];
        form.extend(params.iter().cloned());
        let request = HttpRequest::post(&self.url).form(form);
        let body = self.http.send(&request).await?.body;
        Ok(match Exception::of(&body) {
            Some(e) => Err(e),
            None => Ok(body),
        })
    }

    /// Calls `function`; an exception is an error of its class ([`classify`]).
    pub async fn call(
        &self,
        function: &str,
        params: &[(String, String)],
    ) -> Result<Value, ConnectorError> {
        self.try_call(function, params)
            .await?
            .map_err(|e| classify(&e, function, &self.url, &self.instance))
    }
}

/// `options[i][name]` / `options[i][value]` pairs of `core_enrol_get_enrolled_users`.
pub fn options(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .enumerate()
        .flat_map(|(i, (name, value))| {
            [
                (format!("options[{i}][name]"), (*name).to_owned()),
                (format!("options[{i}][value]"), value.clone()),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tributary_connector::ErrorClass;

    fn class_of(body: Value) -> ErrorClass {
        let e = Exception::of(&body).expect("an exception");
        classify(&e, "core_course_get_courses", "https://m.example/ws", "lms").class()
    }

    #[test]
    fn exceptions_map_to_their_classes() {
        let token = json!({"exception":"moodle_exception","errorcode":"invalidtoken","message":"Invalid token - token not found"});
        assert_eq!(class_of(token.clone()), ErrorClass::Auth);
        let e = classify(
            &Exception::of(&token).unwrap(),
            "core_course_get_courses",
            "https://m.example/ws",
            "lms",
        );
        assert!(e.to_string().contains("invalidtoken"), "{e}");
        assert!(!e.is_retryable());
        for code in ["accessexception", "requireloginerror", "nopermissions"] {
            let body =
                json!({"exception":"webservice_access_exception","errorcode":code,"message":"x"});
            assert_eq!(class_of(body), ErrorClass::Auth, "{code}");
        }
        let param = json!({"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":"Invalid parameter value detected","debuginfo":"courseid => missing"});
        assert_eq!(class_of(param.clone()), ErrorClass::Config);
        let e = classify(&Exception::of(&param).unwrap(), "f", "u", "lms");
        assert!(e.to_string().contains("courseid => missing"), "{e}");
        let other = json!({"exception":"moodle_exception","errorcode":"sitemaintenance","message":"Site is being upgraded"});
        assert_eq!(class_of(other), ErrorClass::Fatal);
        assert!(Exception::of(&json!([{"id": 1}])).is_none());
        assert!(Exception::of(&json!({"courses": []})).is_none());
    }

    #[test]
    fn options_flatten_php_style() {
        assert_eq!(
            options(&[("limitfrom", "0".into()), ("onlyactive", "1".into())]),
            vec![
                ("options[0][name]".to_owned(), "limitfrom".to_owned()),
                ("options[0][value]".to_owned(), "0".to_owned()),
                ("options[1][name]".to_owned(), "onlyactive".to_owned()),
                ("options[1][value]".to_owned(), "1".to_owned()),
            ]
        );
    }
}
