//! [`BackendSpec`]: which backend to make, parsed from a URL-like string or
//! a JSON/TOML config, independently of which backends are compiled in.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use backend_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::params::{Params, percent_decode};

/// The schemes a location may start with.
pub const SCHEMES: &[&str] = &[
    "state", "file", "docker", "s3", "e2b", "daytona", "runloop", "modal",
];

/// What backend to make and how. Parse one from a URL-like string with
/// [`BackendSpec::parse`] (or `str::parse`), from JSON or TOML with
/// [`from_json`](Self::from_json) / [`from_toml`](Self::from_toml), or
/// deserialise it as part of a larger config; then
/// [`build`](Self::build) it.
///
/// Parsing checks every parameter whatever features are enabled, so a typo
/// is reported as such; building a scheme whose cargo feature is off fails
/// with `unsupported` naming the feature.
///
/// | Location | Backend | Feature | Parameters |
/// |---|---|---|---|
/// | `state://` | in memory | `state` | `quota` (bytes, such as `64m`) |
/// | `file:///srv/ws` | a host directory | `local` | `exec` (`true` needs `local-exec`), `overlay` |
/// | `docker://IMAGE` | a container | `docker` | `memory`, `cpus`, `pids`, `network`, `runtime`, `user`, `tmp` |
/// | `s3://BUCKET/PREFIX` | S3 or compatible | `s3` | `endpoint`, `region`, `path_style` |
/// | `e2b://TEMPLATE` | E2B sandbox | `e2b` | the shared remote keys, `timeout` (seconds), `domain`, `envd_url` |
/// | `daytona://SNAPSHOT` | Daytona sandbox | `daytona` | the shared remote keys, `timeout`, `target`, `cpu`, `memory`, `disk` |
/// | `runloop://BLUEPRINT` | Runloop devbox (a `bpt_...` id or a name) | `runloop` | the shared remote keys, `timeout`, `blueprint_name`, `blueprint_id`, `snapshot_id`, `resource_size` |
/// | `modal://APP` | Modal sandbox | `modal` | the shared remote keys but `api_key_env`, `timeout`, `image`, `environment`, `builder_version`, `milli_cpu`, `memory_mb`, `idle_timeout` |
///
/// The remote parameters are the string keys of `backend-remote`'s
/// `RemoteConfig::with_option`, passed on as they are. The shared ones are
/// `api_url`, `api_key_env`, `root_dir`, `start_timeout`, `connect_timeout`,
/// `request_timeout`, `retry_attempts`, `retry_budget` (times in seconds),
/// `env.NAME` (an environment variable) and `label.NAME`. Remote providers
/// read their API key from their usual variable (`E2B_API_KEY`,
/// `DAYTONA_API_KEY`, `RUNLOOP_API_KEY`, `MODAL_TOKEN_ID` and
/// `MODAL_TOKEN_SECRET`) unless `api_key_env` names another (keys themselves
/// never go in a location); `timeout` is how long the sandbox may live (E2B,
/// Modal), stay idle (Runloop) or run before it is stopped (Daytona, rounded
/// up to minutes).
///
/// A composite is a table (see [`from_value`](Self::from_value)):
/// ```toml
/// default = "docker://python:3.12-slim?memory=1g"
/// [routes]
/// "/memories/" = "file:///srv/memories"
/// "/cache/" = { url = "s3://agent-cache/run-1", region = "eu-west-1" }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum BackendSpec {
    /// `state://`: files in memory.
    State(StateSpec),
    /// `file:///path`: files in a host directory.
    Local(LocalSpec),
    /// `docker://IMAGE`: a container.
    Docker(DockerSpec),
    /// `s3://BUCKET/PREFIX`: objects in a bucket.
    S3(S3Spec),
    /// `e2b://`, `daytona://`, `runloop://`, `modal://`: a remote sandbox.
    Remote(RemoteSpec),
    /// A default backend and routes by path prefix.
    Composite(CompositeSpec),
}

/// `state://?quota=64m`.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateSpec {
    /// The most bytes of file content it holds.
    pub quota: Option<u64>,
}

/// `file:///srv/ws?exec=true`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSpec {
    /// The host directory holding the virtual `/`.
    pub root: PathBuf,
    /// Whether commands may run in it (a sandbox; needs `local-exec`).
    pub exec: bool,
    /// Keep writes and deletes in memory over a read-only view of the
    /// directory.
    pub overlay: bool,
}

/// `docker://python:3.12-slim?memory=512m&cpus=1`. Unset fields keep the
/// hardened defaults of the docker backend.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct DockerSpec {
    /// The image, such as `python:3.12-slim`.
    pub image: String,
    /// Memory limit in bytes.
    pub memory: Option<u64>,
    /// CPUs (may be fractional).
    pub cpus: Option<f64>,
    /// Process limit.
    pub pids: Option<u64>,
    /// Whether the container gets a network.
    pub network: Option<bool>,
    /// An OCI runtime such as `runsc`.
    pub runtime: Option<String>,
    /// The user commands run as.
    pub user: Option<String>,
    /// Size of the in-memory `/tmp`, in bytes.
    pub tmp: Option<u64>,
}

/// `s3://bucket/prefix?endpoint=http://localhost:9000&region=us-east-1`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Spec {
    /// The bucket.
    pub bucket: String,
    /// The key prefix holding the virtual `/` (empty for the whole bucket).
    pub prefix: String,
    /// A custom endpoint (S3-compatible servers).
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most
    /// S3-compatible servers.
    pub path_style: Option<bool>,
}

/// A remote sandbox provider.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// E2B.
    E2b,
    /// Daytona.
    Daytona,
    /// Runloop.
    Runloop,
    /// Modal.
    Modal,
}

/// The parameters every remote provider takes (Modal all but
/// `api_key_env`), besides `env.NAME` and `label.NAME`.
const SHARED_REMOTE_KEYS: &[&str] = &[
    "api_key_env",
    "api_url",
    "root_dir",
    "start_timeout",
    "connect_timeout",
    "request_timeout",
    "retry_attempts",
    "retry_budget",
];

/// The parameters whose value is a whole number (of seconds, cores, GiB).
const NUMERIC_REMOTE_KEYS: &[&str] = &[
    "start_timeout",
    "connect_timeout",
    "request_timeout",
    "retry_attempts",
    "retry_budget",
    "timeout",
    "idle_timeout",
    "cpu",
    "memory",
    "disk",
    "milli_cpu",
    "memory_mb",
];

impl Provider {
    /// The scheme, which is also the cargo feature: `e2b`, `daytona`, ...
    pub const fn scheme(self) -> &'static str {
        match self {
            Provider::E2b => "e2b",
            Provider::Daytona => "daytona",
            Provider::Runloop => "runloop",
            Provider::Modal => "modal",
        }
    }

    /// The provider option the location's target sets: the E2B template,
    /// the Daytona snapshot, the Runloop blueprint, the Modal app.
    pub const fn target_key(self) -> &'static str {
        match self {
            Provider::E2b => "template",
            Provider::Daytona => "snapshot",
            Provider::Runloop => "blueprint",
            Provider::Modal => "app",
        }
    }

    /// The parameters a location of this provider takes, besides
    /// `env.NAME` and `label.NAME`.
    pub fn parameters(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Provider::E2b => &["timeout", "domain", "envd_url"],
            Provider::Daytona => &["timeout", "target", "cpu", "memory", "disk"],
            Provider::Runloop => &[
                "timeout",
                "blueprint_name",
                "blueprint_id",
                "snapshot_id",
                "resource_size",
            ],
            Provider::Modal => &[
                "timeout",
                "image",
                "environment",
                "builder_version",
                "milli_cpu",
                "memory_mb",
                "idle_timeout",
            ],
        };
        SHARED_REMOTE_KEYS
            .iter()
            // Modal authenticates with a token pair from its own variables.
            .filter(|key| self != Provider::Modal || **key != "api_key_env")
            .chain(own)
            .copied()
            .collect()
    }
}

/// `e2b://TEMPLATE`, `daytona://SNAPSHOT`, `runloop://BLUEPRINT`,
/// `modal://APP`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Which provider.
    pub provider: Provider,
    /// The template, snapshot, blueprint or app; the provider's default
    /// when empty.
    pub target: Option<String>,
    /// The parameters, checked against [`Provider::parameters`]: string
    /// keys of `backend-remote`'s `RemoteConfig::with_option`.
    pub options: BTreeMap<String, String>,
}

impl RemoteSpec {
    /// The value of the parameter `key`, when given.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// Every option for the provider: the parameters, and the target under
    /// [`Provider::target_key`].
    pub fn provider_options(&self) -> Vec<(&str, &str)> {
        let mut options: Vec<(&str, &str)> = self
            .options
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        if let Some(target) = &self.target {
            options.push((self.provider.target_key(), target));
        }
        options
    }
}

/// A default backend and routes by path prefix.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeSpec {
    /// Where unrouted paths (and commands) go.
    pub default: Box<BackendSpec>,
    /// Prefix → backend, such as `/memories/` → `file:///srv/memories`.
    pub routes: BTreeMap<String, BackendSpec>,
}

impl BackendSpec {
    /// Parses a location such as `docker://python:3.12?memory=1g`.
    pub fn parse(location: &str) -> Result<Self> {
        parse_location(location, BTreeMap::new())
    }

    /// Parses a JSON config: a location string, a table with `url` and
    /// parameters, or a composite table.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::invalid_argument(format!("the backend config is not valid JSON: {e}"))
        })?;
        Self::from_value(&value)
    }

    /// Parses a TOML config: a table with `url` and parameters, or a
    /// composite table with `default` and `routes`.
    pub fn from_toml(text: &str) -> Result<Self> {
        let value: Value = toml::from_str(text).map_err(|e| {
            Error::invalid_argument(format!("the backend config is not valid TOML: {e}"))
        })?;
        Self::from_value(&value)
    }

    /// Reads a config value:
    /// - a string: a location (`"state://"`);
    /// - a table with `url`: the location, with the other keys as its
    ///   parameters (`{ url = "docker://python:3.12", memory = "1g" }`);
    /// - a table with `default` and optional `routes` (and optionally
    ///   `type = "composite"`): a composite, each value again a config.
    pub fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::String(location) => Self::parse(location),
            Value::Object(table) if table.contains_key("url") => {
                let mut params = BTreeMap::new();
                let mut url = None;
                for (key, value) in table {
                    if key == "url" {
                        url = value.as_str();
                        continue;
                    }
                    params.insert(key.clone(), scalar(key, value)?);
                }
                let url = url.ok_or_else(|| {
                    Error::invalid_argument("`url` in a backend config must be a string")
                })?;
                parse_location(url, params)
            }
            Value::Object(table) if table.contains_key("default") => composite(table),
            _ => Err(Error::invalid_argument(
                "a backend config is a location string (\"state://\"), a table with `url` \
                 and parameters, or a composite table with `default` and `routes`",
            )),
        }
    }

    /// The scheme (`state`, `file`, ...), or `composite`.
    pub fn scheme(&self) -> &'static str {
        match self {
            BackendSpec::State(_) => "state",
            BackendSpec::Local(_) => "file",
            BackendSpec::Docker(_) => "docker",
            BackendSpec::S3(_) => "s3",
            BackendSpec::Remote(r) => r.provider.scheme(),
            BackendSpec::Composite(_) => "composite",
        }
    }

    /// The cargo feature of `agent-backend` that building this spec needs
    /// (not counting the backends a composite routes to).
    pub fn required_feature(&self) -> &'static str {
        match self {
            BackendSpec::State(_) => "state",
            BackendSpec::Local(l) if l.exec => "local-exec",
            BackendSpec::Local(_) => "local",
            BackendSpec::Docker(_) => "docker",
            BackendSpec::S3(_) => "s3",
            BackendSpec::Remote(r) => r.provider.scheme(),
            BackendSpec::Composite(_) => "composite",
        }
    }
}

impl FromStr for BackendSpec {
    type Err = Error;

    fn from_str(location: &str) -> Result<Self> {
        BackendSpec::parse(location)
    }
}

impl<'de> Deserialize<'de> for BackendSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        BackendSpec::from_value(&value).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl fmt::Display for BackendSpec {
    /// A short description such as `docker://python:3.12`, without
    /// parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendSpec::State(_) => f.write_str("state://"),
            BackendSpec::Local(l) => write!(f, "file://{}", l.root.display()),
            BackendSpec::Docker(d) => write!(f, "docker://{}", d.image),
            BackendSpec::S3(s) => write!(f, "s3://{}/{}", s.bucket, s.prefix),
            BackendSpec::Remote(r) => {
                write!(
                    f,
                    "{}://{}",
                    r.provider.scheme(),
                    r.target.as_deref().unwrap_or("")
                )
            }
            BackendSpec::Composite(c) => {
                write!(f, "composite(default={}", c.default)?;
                for (prefix, spec) in &c.routes {
                    write!(f, ", {prefix}={spec}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A table value as parameter text.
fn scalar(key: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Error::invalid_argument(format!(
            "parameter `{key}` must be a string, number or boolean"
        ))),
    }
}

fn composite(table: &serde_json::Map<String, Value>) -> Result<BackendSpec> {
    for key in table.keys() {
        if !matches!(key.as_str(), "default" | "routes" | "type") {
            return Err(Error::invalid_argument(format!(
                "unknown key `{key}` in a composite backend config; accepted: default, routes, type"
            )));
        }
    }
    if let Some(kind) = table.get("type")
        && kind.as_str() != Some("composite")
    {
        return Err(Error::invalid_argument(format!(
            "`type` of a table with `default` must be \"composite\", not {kind}"
        )));
    }
    let default = table
        .get("default")
        .map(BackendSpec::from_value)
        .transpose()
        .map_err(|e| prefixed(e, "the composite's `default`"))?
        .ok_or_else(|| Error::invalid_argument("a composite config needs `default`"))?;
    let mut routes = BTreeMap::new();
    match table.get("routes") {
        None => {}
        Some(Value::Object(entries)) => {
            for (prefix, value) in entries {
                let spec = BackendSpec::from_value(value)
                    .map_err(|e| prefixed(e, &format!("route {prefix:?}")))?;
                routes.insert(prefix.clone(), spec);
            }
        }
        Some(_) => {
            return Err(Error::invalid_argument(
                "`routes` of a composite config must be a table of prefix = backend",
            ));
        }
    }
    Ok(BackendSpec::Composite(CompositeSpec {
        default: Box::new(default),
        routes,
    }))
}

/// Says which part of a config an error is about.
fn prefixed(err: Error, part: &str) -> Error {
    let message = format!("{part}: {}", err.message());
    err.with_message(message)
}

fn parse_location(location: &str, extra: BTreeMap<String, String>) -> Result<BackendSpec> {
    let Some((scheme, rest)) = location.split_once("://") else {
        return Err(Error::invalid_argument(format!(
            "backend location {location:?} has no scheme; write it as SCHEME://..., with SCHEME one of {}",
            SCHEMES.join(", ")
        )));
    };
    let scheme_lower = scheme.to_ascii_lowercase();
    let Some(scheme) = SCHEMES.iter().copied().find(|s| *s == scheme_lower) else {
        return Err(Error::invalid_argument(format!(
            "unknown backend scheme {scheme:?} in {location:?}; known: {}",
            SCHEMES.join(", ")
        )));
    };
    let (target, query) = rest.split_once('?').unwrap_or((rest, ""));
    let target = percent_decode(target)?;
    let mut params = Params::from_query(scheme, query)?;
    for (key, value) in extra {
        params.insert(key, value)?;
    }
    let spec = match scheme {
        "state" => {
            if !target.is_empty() {
                return Err(Error::invalid_argument(format!(
                    "state:// takes no location, only parameters (state://?quota=64m), not {target:?}"
                )));
            }
            let quota = params.take_size("quota")?;
            params.finish(&["quota"])?;
            BackendSpec::State(StateSpec { quota })
        }
        "file" => {
            if !target.starts_with('/') {
                return Err(Error::invalid_argument(format!(
                    "file:// needs an absolute host path, as in file:///srv/workspace (three slashes), not {location:?}"
                )));
            }
            let exec = params.take_bool("exec")?.unwrap_or(false);
            let overlay = params.take_bool("overlay")?.unwrap_or(false);
            params.finish(&["exec", "overlay"])?;
            BackendSpec::Local(LocalSpec {
                root: PathBuf::from(target),
                exec,
                overlay,
            })
        }
        "docker" => {
            if target.is_empty() {
                return Err(Error::invalid_argument(
                    "docker:// needs an image, as in docker://python:3.12-slim",
                ));
            }
            let spec = DockerSpec {
                image: target,
                memory: params.take_size("memory")?,
                cpus: params.take_positive_f64("cpus")?,
                pids: params.take_u64("pids")?,
                network: params.take_bool("network")?,
                runtime: params.take("runtime"),
                user: params.take("user"),
                tmp: params.take_size("tmp")?,
            };
            params.finish(&[
                "memory", "cpus", "pids", "network", "runtime", "user", "tmp",
            ])?;
            BackendSpec::Docker(spec)
        }
        "s3" => {
            let (bucket, prefix) = target.split_once('/').unwrap_or((&target, ""));
            if bucket.is_empty() {
                return Err(Error::invalid_argument(
                    "s3:// needs a bucket, as in s3://my-bucket/some/prefix",
                ));
            }
            let spec = S3Spec {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                endpoint: params.take("endpoint"),
                region: params.take("region"),
                path_style: params.take_bool("path_style")?,
            };
            params.finish(&["endpoint", "region", "path_style"])?;
            BackendSpec::S3(spec)
        }
        remote => {
            let provider = match remote {
                "e2b" => Provider::E2b,
                "daytona" => Provider::Daytona,
                "runloop" => Provider::Runloop,
                _ => Provider::Modal,
            };
            let accepted = provider.parameters();
            let options = params.take_remote(&accepted, NUMERIC_REMOTE_KEYS)?;
            let spec = RemoteSpec {
                provider,
                target: Some(target).filter(|t| !t.is_empty()),
                options,
            };
            params.finish(&accepted)?;
            BackendSpec::Remote(spec)
        }
    };
    Ok(spec)
}
