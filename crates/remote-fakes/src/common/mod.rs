//! What every fake shares: the filesystem guard, real processes, fault
//! injection, the HTTP checks and the frame of a REST fake.

mod disk;
mod fake;
mod fault;
mod http;
mod lock;
mod process;

pub use disk::{Disk, Meta, is_missing, meta, rfc3339, write_atomic};
pub use fake::{Fake, ProviderState, Server};
pub use fault::{Fault, Faults, dropped_connection};
pub use http::{
    ErrorShape, FormError, Reply, bearer, content_type_is, fault_reply, form_parts, header,
    injected, json_body, octet_stream, serve, status_code,
};
pub use lock::lock;
pub use process::{Collected, Job, Proc, ProcEvent, collect, kill_group, spawn};
