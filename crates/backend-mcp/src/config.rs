//! The configuration file (TOML) and how command-line flags override it.

use std::path::Path;

use anyhow::Context;
use backend_tools::{OutputLimits, Permissions, PermissionsConfig};
use serde::Deserialize;

/// What a configuration file holds. Every key is optional.
///
/// ```toml
/// backend = "file://./workspace"   # or "state://", "docker://python:3.12-slim", a table
/// sandbox = "local"                # commands on the host, in that directory: trusted use only
/// read_only = false
/// structured_content = false       # also send results as JSON (see below)
/// read_before_write = true         # writes need a read of the current file first
///
/// [limits]
/// max_output_chars = 40000
/// max_line_chars = 2000
///
/// [permissions]
/// default = "allow"
/// rules = [
///   { action = "deny", path = "*.env" },
///   { action = "deny", operations = ["write", "delete"], path = "/vendor/**" },
/// ]
/// commands = [{ action = "deny", pattern = '\brm\s+-rf\b' }]
///
/// [http]
/// allowed_hosts = ["localhost", "127.0.0.1", "::1"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where files live: a location string or a config table (see
    /// [`crate::open()`]); `./workspace` when absent.
    pub backend: Option<serde_json::Value>,
    /// What runs commands; without one there is no `execute` tool.
    pub sandbox: Option<String>,
    /// Offer only the reading tools.
    #[serde(default)]
    pub read_only: bool,
    /// Declare each tool's `outputSchema` and send results' JSON as MCP
    /// `structuredContent` besides the text. Off by default: Claude Code
    /// and the Agent SDK show the model that JSON instead of the text (no
    /// line numbers, paging hints or cut notes).
    #[serde(default)]
    pub structured_content: bool,
    /// Refuse (`conflict`) `write_file` over an existing file and
    /// `edit_file` unless the session read the file and it has not changed
    /// since; on when absent.
    pub read_before_write: Option<bool>,
    /// Output size limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Permission rules.
    #[serde(default)]
    pub permissions: PermissionsConfig,
    /// Settings of the HTTP transport.
    #[serde(default)]
    pub http: HttpConfig,
}

/// The `[limits]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Cap on one result's text, in characters.
    pub max_output_chars: Option<usize>,
    /// Lines longer than this many characters are cut.
    pub max_line_chars: Option<usize>,
}

/// The `[http]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Host names accepted in the `Host` header (DNS-rebinding protection);
    /// loopback names by default.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

impl Config {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// The compiled permission rules (with the read-only preset when set).
    pub fn permissions(&self) -> anyhow::Result<Permissions> {
        let permissions = Permissions::from_config(&self.permissions)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("in [permissions]")?;
        Ok(if self.read_only {
            permissions.with_read_only()
        } else {
            permissions
        })
    }

    /// Whether read-before-write is on (the default).
    pub fn read_before_write(&self) -> bool {
        self.read_before_write.unwrap_or(true)
    }

    /// The output limits, defaults filled in.
    pub fn limits(&self) -> anyhow::Result<OutputLimits> {
        let mut limits = OutputLimits::default();
        if let Some(chars) = self.limits.max_output_chars {
            anyhow::ensure!(chars >= 100, "limits.max_output_chars must be at least 100");
            limits.max_output_chars = chars;
        }
        if let Some(chars) = self.limits.max_line_chars {
            anyhow::ensure!(chars >= 10, "limits.max_line_chars must be at least 10");
            limits.max_line_chars = chars;
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"
backend = "state://"
sandbox = "local"
read_only = true
structured_content = true
[limits]
max_output_chars = 5000
[permissions]
rules = [{ action = "deny", operations = ["write"], path = "/vendor/**" }]
commands = [{ action = "deny", pattern = '\brm\b' }]
[http]
allowed_hosts = ["example.com"]
"#;
        let config = Config::parse(text).unwrap();
        assert_eq!(config.backend, Some(serde_json::json!("state://")));
        assert!(config.permissions().unwrap().is_read_only());
        assert!(config.structured_content);
        assert_eq!(config.limits().unwrap().max_output_chars, 5000);
        assert_eq!(config.http.allowed_hosts, vec!["example.com"]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse("backends = \"state://\"").unwrap_err();
        assert!(format!("{err:#}").contains("backends"), "{err:#}");
    }

    #[test]
    fn a_composite_backend_table_is_kept_for_the_builder() {
        let config = Config::parse(
            "[backend]\ndefault = \"state://\"\n[backend.routes]\n\"/memories/\" = \"file://./memories\"\n",
        )
        .unwrap();
        let backend = config.backend.unwrap();
        assert_eq!(backend["routes"]["/memories/"], "file://./memories");
    }
}
