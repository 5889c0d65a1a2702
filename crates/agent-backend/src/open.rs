//! Making a backend from a [`BackendSpec`]: each scheme's constructor, or a
//! clear error when its cargo feature is off.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use backend_core::{Backend, BackendHandle, Error, ErrorKind, Operation, Result, Sandbox};

#[allow(unused_imports)] // each import is used by the features that need it
use crate::spec::{
    BackendSpec, CompositeSpec, DockerSpec, LocalSpec, Provider, RemoteSpec, S3Spec, StateSpec,
};

/// A backend made from a [`BackendSpec`]: its files, and its commands when
/// it is a sandbox ([`BackendHandle`]), with a description of what was
/// built.
#[derive(Clone)]
pub struct BuiltBackend {
    handle: BackendHandle,
    description: String,
}

impl BuiltBackend {
    /// A plain file store.
    pub fn from_backend(backend: Arc<dyn Backend>, description: impl Into<String>) -> Self {
        BuiltBackend {
            handle: BackendHandle::from_backend(backend),
            description: description.into(),
        }
    }

    /// A sandbox (its files are the backend).
    pub fn from_sandbox(sandbox: Arc<dyn Sandbox>, description: impl Into<String>) -> Self {
        BuiltBackend {
            handle: BackendHandle::from_sandbox(sandbox),
            description: description.into(),
        }
    }

    /// The files.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        self.handle.backend()
    }

    /// The same object as a sandbox, when it runs commands.
    pub fn sandbox(&self) -> Option<&Arc<dyn Sandbox>> {
        self.handle.sandbox()
    }

    /// The backend and its sandbox view.
    pub fn handle(&self) -> &BackendHandle {
        &self.handle
    }

    /// The sandbox, or `unsupported` saying this backend runs no commands.
    pub fn require_sandbox(&self) -> Result<&Arc<dyn Sandbox>> {
        self.handle.sandbox().ok_or_else(|| {
            Error::unsupported(format!(
                "running commands: {} stores files only; choose a sandbox such as docker:// or file://...?exec=true",
                self.description
            ))
            .with_operation(Operation::Execute)
        })
    }

    /// What was built, such as `docker://python:3.12`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The backend and its sandbox view, without the description.
    pub fn into_handle(self) -> BackendHandle {
        self.handle
    }

    /// Splits into the backend and the optional sandbox.
    pub fn into_parts(self) -> (Arc<dyn Backend>, Option<Arc<dyn Sandbox>>) {
        self.handle.into_parts()
    }

    /// Closes the sandbox, if any (backends that are not sandboxes hold
    /// nothing to release).
    pub async fn close(&self) -> Result<()> {
        self.handle.close().await
    }
}

impl std::fmt::Debug for BuiltBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltBackend")
            .field("description", &self.description)
            .field("sandbox", &self.handle.sandbox().is_some())
            .finish()
    }
}

/// The future [`BackendSpec::build`] returns.
pub type BuildFuture<'a> = Pin<Box<dyn Future<Output = Result<BuiltBackend>> + Send + 'a>>;

impl BackendSpec {
    /// Makes the backend: creates containers or remote sandboxes, connects
    /// to stores. Fails with `unsupported` naming the cargo feature when the
    /// scheme is compiled out, and with the backend's own error otherwise.
    pub fn build(&self) -> BuildFuture<'_> {
        Box::pin(async move {
            let built = match self {
                BackendSpec::State(spec) => state(spec),
                BackendSpec::Local(spec) => local(spec),
                BackendSpec::Docker(spec) => docker(spec).await,
                BackendSpec::S3(spec) => s3(spec).await,
                BackendSpec::Remote(spec) => remote(spec).await,
                BackendSpec::Composite(spec) => composite(spec).await,
            };
            built.map_err(|e| e.or_operation(Operation::Create))
        })
    }
}

/// Parses `location` and builds it: `open("state://")`,
/// `open("docker://python:3.12-slim?memory=1g")`.
pub async fn open(location: &str) -> Result<BuiltBackend> {
    BackendSpec::parse(location)?.build().await
}

/// `unsupported`: the scheme's cargo feature is off.
#[allow(dead_code)] // unused when every feature is on
fn compiled_out(scheme: &str, feature: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "the {scheme}:// backend is not compiled in: enable the cargo feature `{feature}` of \
             agent-backend (agent-backend = {{ features = [\"{feature}\"] }} in Cargo.toml)"
        ),
    )
    .with_operation(Operation::Create)
}

#[cfg(feature = "state")]
fn state(spec: &StateSpec) -> Result<BuiltBackend> {
    let backend = match spec.quota {
        Some(bytes) => backend_state::StateBackend::with_quota(bytes),
        None => backend_state::StateBackend::new(),
    };
    Ok(BuiltBackend::from_backend(Arc::new(backend), "state://"))
}

#[cfg(not(feature = "state"))]
fn state(_: &StateSpec) -> Result<BuiltBackend> {
    Err(compiled_out("state", "state"))
}

#[cfg(feature = "local")]
fn local(spec: &LocalSpec) -> Result<BuiltBackend> {
    let description = format!("file://{}", spec.root.display());
    create_dir(&spec.root)?;
    if spec.exec {
        return local_sandbox(spec, description);
    }
    let backend = if spec.overlay {
        backend_local::LocalBackend::overlay(&spec.root)?
    } else {
        backend_local::LocalBackend::new(&spec.root)?
    };
    Ok(BuiltBackend::from_backend(Arc::new(backend), description))
}

/// Creates the directory of a `file://` location (and its parents), as the
/// MCP server does, so that a fresh checkout works without set-up.
#[cfg(feature = "local")]
fn create_dir(root: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(root).map_err(|e| {
        let kind = match e.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::InvalidArgument,
        };
        Error::new(
            kind,
            format!(
                "cannot create the directory {} of a file:// location: {e}",
                root.display()
            ),
        )
        .with_source(e)
    })
}

#[cfg(not(feature = "local"))]
fn local(spec: &LocalSpec) -> Result<BuiltBackend> {
    let feature = if spec.exec { "local-exec" } else { "local" };
    Err(compiled_out("file", feature))
}

#[cfg(feature = "local-exec")]
fn local_sandbox(spec: &LocalSpec, description: String) -> Result<BuiltBackend> {
    if spec.overlay {
        return Err(Error::invalid_argument(
            "file:// with exec=true cannot use overlay=true: commands write to the directory itself",
        ));
    }
    let sandbox = backend_local::LocalSandbox::new(&spec.root)?;
    Ok(BuiltBackend::from_sandbox(Arc::new(sandbox), description))
}

#[cfg(all(feature = "local", not(feature = "local-exec")))]
fn local_sandbox(_: &LocalSpec, _: String) -> Result<BuiltBackend> {
    Err(compiled_out("file", "local-exec")
        .with_message("file:// with exec=true runs commands on the host, which needs the cargo feature `local-exec` of agent-backend (features = [\"local-exec\"])"))
}

#[cfg(feature = "docker")]
async fn docker(spec: &DockerSpec) -> Result<BuiltBackend> {
    let too_large =
        |key: &str| Error::invalid_argument(format!("parameter `{key}` of docker:// is too large"));
    let mut builder = backend_docker::DockerSandbox::builder(&spec.image);
    if let Some(bytes) = spec.memory {
        builder = builder.memory_bytes(i64::try_from(bytes).map_err(|_| too_large("memory"))?);
    }
    if let Some(cpus) = spec.cpus {
        builder = builder.cpus(cpus);
    }
    if let Some(pids) = spec.pids {
        builder = builder.pids_limit(i64::try_from(pids).map_err(|_| too_large("pids"))?);
    }
    if let Some(network) = spec.network {
        builder = builder.network(network);
    }
    if let Some(runtime) = &spec.runtime {
        builder = builder.runtime(runtime);
    }
    if let Some(user) = &spec.user {
        builder = builder.user(user);
    }
    if let Some(bytes) = spec.tmp {
        builder = builder.tmp_bytes(bytes);
    }
    let sandbox = builder.build().await?;
    Ok(BuiltBackend::from_sandbox(
        Arc::new(sandbox),
        format!("docker://{}", spec.image),
    ))
}

#[cfg(not(feature = "docker"))]
async fn docker(_: &DockerSpec) -> Result<BuiltBackend> {
    Err(compiled_out("docker", "docker"))
}

#[cfg(feature = "s3")]
async fn s3(spec: &S3Spec) -> Result<BuiltBackend> {
    let mut config = backend_s3::S3Config::new(&spec.bucket).prefix(&spec.prefix);
    if let Some(endpoint) = &spec.endpoint {
        config = config.endpoint_url(endpoint);
    }
    if let Some(region) = &spec.region {
        config = config.region(region);
    }
    if let Some(path_style) = spec.path_style {
        config = config.force_path_style(path_style);
    }
    let backend = backend_s3::S3Backend::connect(config).await?;
    Ok(BuiltBackend::from_backend(
        Arc::new(backend),
        format!("s3://{}/{}", spec.bucket, spec.prefix),
    ))
}

#[cfg(not(feature = "s3"))]
async fn s3(_: &S3Spec) -> Result<BuiltBackend> {
    Err(compiled_out("s3", "s3"))
}

async fn remote(spec: &RemoteSpec) -> Result<BuiltBackend> {
    match spec.provider {
        #[cfg(feature = "e2b")]
        Provider::E2b => remote_sandbox::<backend_remote::e2b::E2b>(spec).await,
        #[cfg(feature = "daytona")]
        Provider::Daytona => remote_sandbox::<backend_remote::daytona::Daytona>(spec).await,
        #[cfg(feature = "runloop")]
        Provider::Runloop => remote_sandbox::<backend_remote::runloop::Runloop>(spec).await,
        #[cfg(feature = "modal")]
        Provider::Modal => remote_sandbox::<backend_remote::modal::Modal>(spec).await,
        #[allow(unreachable_patterns)] // when every provider is compiled in
        other => Err(compiled_out(other.scheme(), other.scheme())),
    }
}

/// A sandbox of provider `P`: its variables, then the location's options
/// (the same string keys for every provider).
#[cfg(any(
    feature = "e2b",
    feature = "daytona",
    feature = "runloop",
    feature = "modal"
))]
async fn remote_sandbox<P: backend_remote::Provider>(spec: &RemoteSpec) -> Result<BuiltBackend> {
    let config = backend_remote::RemoteConfig::<P>::from_env_with(spec.provider_options())
        .map_err(|e| {
            let message = format!("{}://: {}", spec.provider.scheme(), e.message());
            e.with_message(message)
        })?;
    let sandbox = backend_remote::RemoteSandbox::create(config).await?;
    let description = BackendSpec::Remote(spec.clone()).to_string();
    Ok(BuiltBackend::from_sandbox(Arc::new(sandbox), description))
}

#[cfg(feature = "composite")]
async fn composite(spec: &CompositeSpec) -> Result<BuiltBackend> {
    use backend_composite::CompositeBackend;

    let default = spec
        .default
        .build()
        .await
        .map_err(|e| in_part(e, "the composite's default backend"))?;
    let mut routes = Vec::with_capacity(spec.routes.len());
    for (prefix, route) in &spec.routes {
        match route.build().await {
            Ok(built) => routes.push((prefix, built)),
            Err(e) => {
                // Release what was already made (containers, remote
                // sandboxes) before reporting.
                let _ = default.close().await;
                for (_, made) in &routes {
                    let _ = made.close().await;
                }
                return Err(in_part(e, &format!("route {prefix}")));
            }
        }
    }
    let mut builder = match default.sandbox() {
        Some(sandbox) => CompositeBackend::builder_with_sandbox(sandbox.clone()),
        None => CompositeBackend::builder(default.backend().clone()),
    };
    for (prefix, built) in routes {
        builder = match built.sandbox() {
            Some(sandbox) => builder.sandbox_route(prefix.as_str(), sandbox.clone()),
            None => builder.route(prefix.as_str(), built.backend().clone()),
        };
    }
    let composite = Arc::new(builder.build()?);
    let description = spec_description(spec);
    Ok(if default.sandbox().is_some() {
        BuiltBackend::from_sandbox(composite, description)
    } else {
        BuiltBackend::from_backend(composite, description)
    })
}

#[cfg(not(feature = "composite"))]
async fn composite(_: &CompositeSpec) -> Result<BuiltBackend> {
    Err(compiled_out("composite", "composite")
        .with_message("a composite backend (a config with `default` and `routes`) needs the cargo feature `composite` of agent-backend (features = [\"composite\"])"))
}

#[cfg(feature = "composite")]
fn spec_description(spec: &CompositeSpec) -> String {
    BackendSpec::Composite(spec.clone()).to_string()
}

/// Says which part of a composite an error is about.
#[allow(dead_code)] // unused without `composite`
fn in_part(err: Error, part: &str) -> Error {
    let message = format!("{part}: {}", err.message());
    err.with_message(message)
}
