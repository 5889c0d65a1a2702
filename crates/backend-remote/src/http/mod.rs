//! The HTTP side, for the providers spoken over HTTP (E2B, Daytona,
//! Runloop): one reqwest client with retries and the mapping of provider
//! errors, and the timestamps they send. Only this module needs reqwest.

pub(crate) mod client;
pub(crate) mod timestamp;
