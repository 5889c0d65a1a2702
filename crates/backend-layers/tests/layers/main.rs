//! The layers against the in-memory backend and a local sandbox: one
//! module per layer, plus forwarding through every layer.

mod forwarding;
mod limits;
mod read_only;
mod read_retry;
mod support;
mod timeout;
mod traced;
