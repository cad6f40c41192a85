//! Who may use the dashboard: HTTP basic auth (RFC 7617) checked by an axum
//! middleware with a constant-time comparison, and the rule that a
//! dashboard listening beyond loopback must have it.
//!
//! The credentials come from `--auth USER:PASSWORD` or from a file whose
//! first non-empty line is `USER:PASSWORD` (so the password stays out of
//! the process list).

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

/// Longest user or password accepted, bytes.
pub const CREDENTIAL_BYTES_MAX: usize = 256;
/// The realm the browser shows in its login prompt.
pub const REALM: &str = "ringmq dashboard";

/// Why credentials or a listen address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not `USER:PASSWORD` with both parts present and bounded.
    #[error(
        "credentials must be USER:PASSWORD, neither empty, at most {CREDENTIAL_BYTES_MAX} bytes each, the user without ':'"
    )]
    Malformed,
    /// The credentials file could not be read.
    #[error("cannot read the auth file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// A non-loopback address without credentials.
    #[error(
        "the dashboard would listen on {0}, beyond loopback, without credentials: give --auth USER:PASSWORD or --auth-file"
    )]
    OpenToTheNetwork(SocketAddr),
}

/// A user and password for basic auth.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl FromStr for BasicCredentials {
    type Err = AuthError;

    fn from_str(text: &str) -> Result<Self, AuthError> {
        let (user, password) = text.split_once(':').ok_or(AuthError::Malformed)?;
        let bounded = |s: &str| !s.is_empty() && s.len() <= CREDENTIAL_BYTES_MAX;
        if !bounded(user) || !bounded(password) || user.chars().any(char::is_control) {
            return Err(AuthError::Malformed);
        }
        Ok(Self {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }
}

impl BasicCredentials {
    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Reads `USER:PASSWORD` from the first non-empty line of `path`.
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|err| AuthError::File {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        text.lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .ok_or(AuthError::Malformed)?
            .parse()
    }

    /// Whether an `Authorization` header value carries these credentials.
    /// The decoded `user:password` is compared in constant time.
    pub fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(given) = authorization.and_then(|v| decode_basic(v.as_bytes())) else {
            return false;
        };
        let expected = format!("{}:{}", self.user, self.password);
        bool::from(given.as_slice().ct_eq(expected.as_bytes()))
    }
}

/// The `user:password` bytes of a `Basic <base64>` header value.
fn decode_basic(value: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = encoded.trim();
    // Two bounded fields, a colon, base64's 4/3: reject anything longer.
    if encoded.len() > (2 * CREDENTIAL_BYTES_MAX + 1) * 4 / 3 + 4 {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
}

/// Refuses to listen beyond loopback without credentials.
pub fn check_listen(addr: SocketAddr, auth: Option<&BasicCredentials>) -> Result<(), AuthError> {
    if auth.is_none() && !addr.ip().is_loopback() {
        return Err(AuthError::OpenToTheNetwork(addr));
    }
    Ok(())
}

/// The axum middleware: passes requests with the right credentials (or
/// every request when none are configured), answers 401 otherwise.
pub async fn require(
    State(auth): State<Arc<Option<BasicCredentials>>>,
    request: Request,
    next: Next,
) -> Response {
    match auth.as_ref() {
        Some(credentials) if !credentials.accepts(authorization(request.headers())) => {
            unauthorized()
        }
        _ => next.run(request).await,
    }
}

fn authorization(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers.get(header::AUTHORIZATION)
}

fn unauthorized() -> Response {
    let challenge = format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"");
    let mut response = (StatusCode::UNAUTHORIZED, "credentials required\n").into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(user_pass: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_pass);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn the_right_credentials_pass_and_others_do_not() {
        let creds: BasicCredentials = "ops:s3cret:with-colon".parse().unwrap();
        assert_eq!(creds.user(), "ops");
        assert!(creds.accepts(Some(&header("ops:s3cret:with-colon"))));
        assert!(!creds.accepts(Some(&header("ops:s3cret"))));
        assert!(!creds.accepts(Some(&header("opz:s3cret:with-colon"))));
        assert!(!creds.accepts(None));
        let bearer = HeaderValue::from_static("Bearer b3BzOnMzY3JldA==");
        assert!(!creds.accepts(Some(&bearer)));
        let garbage = HeaderValue::from_static("Basic !!!not-base64");
        assert!(!creds.accepts(Some(&garbage)));
        let lower = HeaderValue::from_str(&format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode("ops:s3cret:with-colon")
        ))
        .unwrap();
        assert!(
            creds.accepts(Some(&lower)),
            "the scheme is case-insensitive"
        );
    }

    #[test]
    fn malformed_credentials_are_refused() {
        for bad in ["", "user", ":pw", "user:", "a\u{7}b:pw"] {
            assert_eq!(
                bad.parse::<BasicCredentials>(),
                Err(AuthError::Malformed),
                "{bad:?}"
            );
        }
        let long = format!("u:{}", "p".repeat(CREDENTIAL_BYTES_MAX + 1));
        assert!(long.parse::<BasicCredentials>().is_err());
    }

    #[test]
    fn the_file_s_first_line_is_used_and_debug_hides_the_password() {
        let dir = std::env::temp_dir().join(format!("ringmq-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("auth");
        std::fs::write(&file, "\n  admin:pw123  \nignored:line\n").unwrap();
        let creds = BasicCredentials::from_file(&file).unwrap();
        assert!(creds.accepts(Some(&header("admin:pw123"))));
        assert!(!format!("{creds:?}").contains("pw123"));
        let missing = BasicCredentials::from_file(&dir.join("nope"));
        assert!(matches!(missing, Err(AuthError::File { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn beyond_loopback_credentials_are_required() {
        let creds: BasicCredentials = "a:b".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(check_listen(lo, None), Ok(()));
        assert_eq!(check_listen(v6, None), Ok(()));
        assert_eq!(
            check_listen(any, None),
            Err(AuthError::OpenToTheNetwork(any))
        );
        assert_eq!(check_listen(any, Some(&creds)), Ok(()));
    }

    proptest! {
        #[test]
        fn any_header_bytes_are_judged_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let creds: BasicCredentials = "a:b".parse().unwrap();
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let _ = creds.accepts(Some(&value));
            }
        }
    }
}
