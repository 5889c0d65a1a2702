//! Connect RPC over plain HTTP, as envd speaks it: JSON bodies, and for
//! server streams the envelope of one flag byte and a 4-byte big-endian
//! length before each message.

use backend_core::{Error, ErrorKind};
use bytes::{Buf, BytesMut};

/// Flag of the last frame of a stream (it carries the error, if any).
pub(crate) const END_STREAM: u8 = 0x02;

/// `message` in one envelope.
pub(crate) fn envelope(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// Takes one whole frame (flag, payload) off the front of `buf`, if there is one.
pub(crate) fn take_frame(buf: &mut BytesMut) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let flag = buf[0];
    buf.advance(5);
    let payload = buf.split_to(len).to_vec();
    Some((flag, payload))
}

/// A Connect error code as an error kind.
pub(crate) fn kind_of(code: &str) -> ErrorKind {
    match code {
        "not_found" => ErrorKind::FileNotFound,
        "invalid_argument" | "out_of_range" | "failed_precondition" => ErrorKind::InvalidArgument,
        "already_exists" | "aborted" => ErrorKind::Conflict,
        "permission_denied" => ErrorKind::PermissionDenied,
        "unauthenticated" => ErrorKind::Unauthenticated,
        "resource_exhausted" => ErrorKind::QuotaExceeded,
        "deadline_exceeded" => ErrorKind::Timeout,
        "unimplemented" => ErrorKind::Unsupported,
        "unavailable" => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

/// The error in an end-of-stream frame, if it holds one.
pub(crate) fn end_stream_error(payload: &[u8]) -> Option<Error> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let error = value.get("error")?;
    let code = error
        .get("code")
        .and_then(|c| c.as_str())
        .unwrap_or("unknown");
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("no message");
    Some(
        Error::new(
            kind_of(code),
            format!("E2B process stream ended with {code}: {message}"),
        )
        .with_context("provider", "E2B")
        .with_retryable(code == "unavailable"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_whole_messages() {
        let mut buf = BytesMut::new();
        let frame = envelope(br#"{"a":1}"#);
        buf.extend_from_slice(&frame[..6]);
        assert!(take_frame(&mut buf).is_none());
        buf.extend_from_slice(&frame[6..]);
        buf.extend_from_slice(&[END_STREAM, 0, 0, 0, 2, b'{', b'}']);
        assert_eq!(take_frame(&mut buf), Some((0, br#"{"a":1}"#.to_vec())));
        assert_eq!(take_frame(&mut buf), Some((END_STREAM, b"{}".to_vec())));
        assert!(buf.is_empty());
    }

    #[test]
    fn end_stream_error_keeps_code_and_message() {
        let e = end_stream_error(br#"{"error":{"code":"not_found","message":"no such dir"}}"#)
            .expect("error");
        assert_eq!(e.kind(), ErrorKind::FileNotFound);
        assert!(e.message().contains("no such dir"));
        assert!(end_stream_error(b"{}").is_none());
    }
}
