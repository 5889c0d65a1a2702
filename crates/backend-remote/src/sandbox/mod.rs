//! The provider-neutral half of every remote sandbox, compiled for every
//! provider whatever it speaks (HTTP or gRPC): the provider trait
//! ([`remote::Remote`]), the file semantics built on it, command execution,
//! and safe shell lines.

mod exec;
mod files;
pub(crate) mod remote;
pub(crate) mod shell;

pub use files::SandboxCore;
