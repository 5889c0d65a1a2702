//! [`RemoteSandbox`]: the one public sandbox type of every provider
//! (`E2bSandbox` is `RemoteSandbox<E2b>`), forwarding to the
//! provider-neutral core.

use std::marker::PhantomData;
use std::time::Duration;

use backend_core::{ForwardBackend, ForwardSandbox, Operation, Result};

use crate::config::RemoteConfig;
use crate::provider::Provider;
use crate::sandbox::SandboxCore;

/// A live sandbox of provider `P`. Implements [`backend_core::Sandbox`]
/// with the semantics of docs/semantics.md; `close()` removes the remote
/// sandbox (one that is already gone counts as closed), and one dropped
/// without `close()` is removed in the background.
pub struct RemoteSandbox<P: Provider> {
    core: SandboxCore,
    provider: PhantomData<fn() -> P>,
}

impl<P: Provider> std::fmt::Debug for RemoteSandbox<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RemoteSandbox").field(&self.core).finish()
    }
}

impl<P: Provider> RemoteSandbox<P> {
    /// Creates a sandbox from `config` and prepares its work directory. A
    /// sandbox that fails to start is removed again.
    pub async fn create(config: RemoteConfig<P>) -> Result<Self> {
        P::validate(&config.options, &config.settings)
            .map_err(|e| e.with_operation(Operation::Create))?;
        let api_url = config.resolved_api_url();
        let core = P::create(api_url, config.options, config.settings)
            .await
            .map_err(|e| e.or_operation(Operation::Create))?;
        Ok(RemoteSandbox {
            core,
            provider: PhantomData,
        })
    }

    /// Reads [`RemoteConfig::from_env`] and creates a sandbox.
    pub async fn from_env() -> Result<Self> {
        Self::create(RemoteConfig::from_env()?).await
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub fn root_dir(&self) -> &str {
        self.core.root_dir()
    }

    /// Sets the sandbox to expire `lifetime` from now, where the provider
    /// allows it (E2B: `POST /sandboxes/{id}/timeout`); `unsupported`
    /// elsewhere.
    pub async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        self.core.set_lifetime(lifetime).await
    }
}

impl<P: Provider> ForwardBackend for RemoteSandbox<P> {
    type Inner = SandboxCore;

    fn inner(&self) -> &SandboxCore {
        &self.core
    }
}

impl<P: Provider> ForwardSandbox for RemoteSandbox<P> {
    type InnerSandbox = SandboxCore;

    fn inner_sandbox(&self) -> &SandboxCore {
        &self.core
    }
}
