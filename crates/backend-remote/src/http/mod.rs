//! Shared plumbing of the providers spoken over HTTP: the client with
//! retries and error mapping, the redacting key type, safe shell lines, and
//! the provider-neutral sandbox every HTTP provider wraps.

// Modal uses the sandbox layer only; the HTTP client serves the other three.
#![cfg_attr(
    not(any(feature = "e2b", feature = "daytona", feature = "runloop")),
    allow(dead_code)
)]

pub(crate) mod client;
pub(crate) mod remote;
mod secret;
pub(crate) mod shell;

pub use client::{RetryPolicy, Timeouts};
pub use secret::ApiKey;

use backend_core::{Error, ErrorKind};

/// Reads a required environment variable, or says how to set it.
pub(crate) fn required_env(name: &str, provider: &str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{name} is not set: export {name}=<your {provider} API key> to use {provider} sandboxes"
            ),
        )),
    }
}

/// Reads an optional environment variable (empty counts as unset).
pub(crate) fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Implements `Backend` and `Sandbox` for a provider type by forwarding every
/// method to its `inner: RemoteSandbox`.
macro_rules! forward_sandbox {
    ($ty:ty) => {
        #[backend_core::async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl backend_core::Backend for $ty {
            fn capabilities(&self) -> backend_core::Capabilities {
                self.inner.capabilities()
            }
            async fn ls(&self, path: &str) -> backend_core::Result<Vec<backend_core::FileInfo>> {
                self.inner.ls(path).await
            }
            async fn stat(&self, path: &str) -> backend_core::Result<backend_core::FileInfo> {
                self.inner.stat(path).await
            }
            async fn read_bytes(&self, path: &str) -> backend_core::Result<Vec<u8>> {
                self.inner.read_bytes(path).await
            }
            async fn write(&self, path: &str, content: Vec<u8>) -> backend_core::Result<()> {
                self.inner.write(path, content).await
            }
            async fn edit(
                &self,
                path: &str,
                old: &str,
                new: &str,
                replace_all: bool,
            ) -> backend_core::Result<backend_core::EditResult> {
                self.inner.edit(path, old, new, replace_all).await
            }
            async fn delete(&self, path: &str, recursive: bool) -> backend_core::Result<()> {
                self.inner.delete(path, recursive).await
            }
            async fn glob(
                &self,
                request: &backend_core::GlobRequest,
            ) -> backend_core::Result<backend_core::GlobResult> {
                self.inner.glob(request).await
            }
            async fn grep(
                &self,
                request: &backend_core::GrepRequest,
            ) -> backend_core::Result<backend_core::GrepResult> {
                self.inner.grep(request).await
            }
            async fn read(
                &self,
                path: &str,
                offset: usize,
                limit: usize,
            ) -> backend_core::Result<backend_core::ReadResult> {
                let bytes = self.inner.read_bytes(path).await?;
                backend_core::text::page(path, &bytes, offset, limit)
                    .map_err(|e| e.or_operation(backend_core::Operation::Read))
            }
            async fn upload_files(
                &self,
                files: Vec<backend_core::FileUpload>,
            ) -> Vec<backend_core::UploadResult> {
                let mut results = Vec::with_capacity(files.len());
                for file in files {
                    let outcome = self.inner.write(&file.path, file.content).await;
                    results.push(backend_core::UploadResult::new(
                        file.path,
                        outcome.map_err(|e| e.or_operation(backend_core::Operation::Upload)),
                    ));
                }
                results
            }
            async fn download_files(
                &self,
                paths: Vec<String>,
            ) -> Vec<backend_core::DownloadResult> {
                let mut results = Vec::with_capacity(paths.len());
                for path in paths {
                    let outcome = self.inner.read_bytes(&path).await;
                    results.push(backend_core::DownloadResult::new(
                        path,
                        outcome.map_err(|e| e.or_operation(backend_core::Operation::Download)),
                    ));
                }
                results
            }
        }

        #[backend_core::async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl backend_core::Sandbox for $ty {
            fn id(&self) -> &str {
                self.inner.id()
            }
            async fn execute_stream(
                &self,
                request: backend_core::ExecRequest,
            ) -> backend_core::Result<backend_core::ExecStream> {
                self.inner.execute_stream(request).await
            }
            async fn execute(
                &self,
                request: backend_core::ExecRequest,
            ) -> backend_core::Result<backend_core::ExecOutput> {
                let limit = request.output_limit;
                let stream = self.inner.execute_stream(request).await?;
                backend_core::exec::collect_output(stream, limit).await
            }
            async fn close(&self) -> backend_core::Result<()> {
                self.inner.close().await
            }
        }
    };
}
pub(crate) use forward_sandbox;

/// Parses an RFC 3339 UTC-or-offset timestamp (`2024-10-01T12:00:00.5Z`,
/// `...+02:00`) as the providers send them.
#[cfg_attr(not(any(feature = "e2b", feature = "daytona")), allow(dead_code))]
pub(crate) fn parse_rfc3339(text: &str) -> Option<std::time::SystemTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &frac[digits.len()..];
        let padded = format!("{digits:0<9}");
        nanos = padded.get(..9)?.parse().ok()?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_missing_required_env_var_is_named_with_how_to_set_it() {
        let e = super::required_env("BACKEND_REMOTE_SURELY_UNSET_VAR", "Test").expect_err("unset");
        assert_eq!(e.kind(), backend_core::ErrorKind::InvalidArgument);
        assert!(
            e.message()
                .contains("export BACKEND_REMOTE_SURELY_UNSET_VAR="),
            "{}",
            e.message()
        );
    }

    #[test]
    fn rfc3339_timestamps_parse_with_fraction_and_offset() {
        let t = super::parse_rfc3339("2024-10-01T12:00:00.5Z").expect("parse");
        assert_eq!(t, UNIX_EPOCH + Duration::from_millis(1_727_784_000_500));
        let t = super::parse_rfc3339("2024-10-01T14:00:00+02:00").expect("parse");
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_727_784_000));
        assert!(super::parse_rfc3339("yesterday").is_none());
    }
}
