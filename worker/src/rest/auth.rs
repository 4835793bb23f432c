//! HTTP basic auth for the REST API (`rest.basic.auth.credentials.file`): a file of
//! `user:password` lines; every request must carry one of them.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::error::ApiError;
use crate::{Error, Result};

/// The accepted `user:password` pairs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.pairs.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Credentials")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

fn auth_error(path: &Path, message: String, source: Option<std::io::Error>) -> Error {
    Error::Rest {
        message: format!(
            "rest.basic.auth.credentials.file {}: {message}",
            path.display()
        ),
        source,
    }
}

impl Credentials {
    /// Reads `user:password` lines (blank lines and `#` comments skipped); at least one.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            auth_error(
                path,
                "cannot be read; check the path and its permissions".into(),
                Some(e),
            )
        })?;
        Self::parse(&text).map_err(|m| auth_error(path, m, None))
    }

    /// Parses the file's text; the error says which line is wrong.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut pairs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((u, p)) if !u.is_empty() && !p.is_empty() => {
                    pairs.push((u.to_owned(), p.to_owned()))
                }
                _ => {
                    return Err(format!(
                        "line {} is not user:password (both non-empty)",
                        i + 1
                    ))
                }
            }
        }
        if pairs.is_empty() {
            return Err("holds no user:password line".into());
        }
        Ok(Credentials { pairs })
    }

    /// True when the `Authorization` header value is basic auth with one of the pairs.
    pub fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(encoded) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let mut ok = false;
        for (u, p) in &self.pairs {
            let expected = format!("{u}:{p}");
            // Every pair is compared in full, whatever matched before.
            ok |= constant_time_eq(expected.as_bytes(), &decoded);
        }
        ok
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: 401 with `WWW-Authenticate` unless the request carries accepted
/// credentials.
pub(super) async fn require(
    State(credentials): State<Arc<Credentials>>,
    request: Request,
    next: Next,
) -> Response {
    if credentials.accepts(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this worker requires HTTP basic auth with a user of its rest.basic.auth.credentials.file",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sluice\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_pass: &str) -> HeaderValue {
        let b = base64::engine::general_purpose::STANDARD.encode(user_pass);
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    #[test]
    fn accepts_only_a_listed_pair() {
        let c =
            Credentials::parse("# operators\nalice:s3cret\n\nbob:hunter2:with-colon\n").unwrap();
        assert!(c.accepts(Some(&header("alice:s3cret"))));
        assert!(c.accepts(Some(&header("bob:hunter2:with-colon"))));
        assert!(!c.accepts(Some(&header("alice:wrong"))));
        assert!(!c.accepts(Some(&header("alice:s3cret "))));
        assert!(!c.accepts(Some(&HeaderValue::from_static("Bearer x"))));
        assert!(!c.accepts(Some(&HeaderValue::from_static("Basic !!!"))));
        assert!(!c.accepts(None));
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password never prints"
        );
    }

    #[test]
    fn a_bad_file_names_the_line() {
        assert!(Credentials::parse("alice\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(Credentials::parse("a:b\n:nouser\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(Credentials::parse("# nothing\n")
            .unwrap_err()
            .contains("no user"));
    }
}
