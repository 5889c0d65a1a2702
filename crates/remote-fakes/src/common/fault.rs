//! Fault injection: faults waiting per route, and the replies they get.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::lock::lock;

/// A fault to inject into a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` (whole seconds), and `retry-after-ms` where
    /// the provider sends it.
    RateLimited {
        /// The wait the server asks for.
        retry_after: Duration,
    },
    /// An error status with the provider's error body (a 5xx, 408, ...).
    Status(u16),
    /// Drops the connection: a streaming response is cut after its first
    /// events; any other response is cut before its body.
    DropConnection,
}

/// A fault and how many more requests it hits.
type PendingFault = (Fault, u32);

/// Faults waiting to hit routes, by route name (each fake documents its
/// route names). Each injected fault hits `times` requests, then is gone.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    pending: Arc<Mutex<HashMap<String, Vec<PendingFault>>>>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Faults {
    /// Makes the next `times` requests to `route` fail with `fault`.
    pub fn inject(&self, route: &str, fault: Fault, times: u32) {
        let mut pending = lock(&self.pending);
        pending
            .entry(route.to_owned())
            .or_default()
            .push((fault, times));
    }

    /// Takes the fault due for this request to `route`, if any, and counts
    /// the request.
    pub fn take(&self, route: &str) -> Option<Fault> {
        {
            let mut hits = lock(&self.hits);
            *hits.entry(route.to_owned()).or_default() += 1;
        }
        let mut pending = lock(&self.pending);
        let queue = pending.get_mut(route)?;
        let (fault, left) = queue.first_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.remove(0);
        }
        Some(fault)
    }

    /// How many requests reached `route` (faulted or not).
    pub fn hits(&self, route: &str) -> u32 {
        let hits = lock(&self.hits);
        hits.get(route).copied().unwrap_or(0)
    }
}

/// A response whose body breaks off: the client sees the connection drop.
pub fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection dropped",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
