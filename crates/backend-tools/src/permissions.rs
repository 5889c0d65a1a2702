//! Permission rules: which tool calls may touch which paths, and which
//! commands may run.
//!
//! Path rules are checked in order and the first whose operation and path
//! glob match decides (allow, deny or ask); when none matches, the default
//! action applies (allow unless configured). Command rules are regular
//! expressions searched in the command line, also first match wins, checked
//! before the path rules for `execute` (which are matched against `/`).

use std::fmt;

use backend_core::{Error, ErrorKind, VirtualPath};
use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The kind of access a tool call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// `ls`, `read_file`, `glob`, `grep`.
    Read,
    /// `write_file`, `edit_file`.
    Write,
    /// `delete`.
    Delete,
    /// `execute`.
    Execute,
}

impl Access {
    /// The lowercase name used in configuration and messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Delete => "delete",
            Access::Execute => "execute",
        }
    }
}

/// What a rule does with the calls it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The call goes ahead.
    #[default]
    Allow,
    /// The call fails with `permission_denied`.
    Deny,
    /// The call goes ahead only if the [`Approver`](crate::Approver) agrees.
    Ask,
}

impl Action {
    const fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Ask => "ask",
        }
    }
}

/// One path rule as written in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRuleConfig {
    /// What to do.
    pub action: Action,
    /// The operations it covers; empty means all.
    #[serde(default)]
    pub operations: Vec<Access>,
    /// A glob over absolute virtual paths, such as `/secrets/**` or `*.env`
    /// (a pattern without `/` matches the file name at any depth). Unlike
    /// `glob` the tool, `*` and `**` here also match hidden names, so that a
    /// rule cannot be sidestepped with a dotfile.
    pub path: String,
}

/// One command rule as written in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRuleConfig {
    /// What to do.
    pub action: Action,
    /// A Rust regular expression searched anywhere in the command line, such
    /// as `\brm\s+-rf\b` or `^git\s+push`.
    pub pattern: String,
}

/// The `[permissions]` section of a configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsConfig {
    /// Start from the read-only preset (its rules come first).
    #[serde(default)]
    pub read_only: bool,
    /// What happens when no rule matches (allow by default).
    #[serde(default)]
    pub default: Action,
    /// Path rules, first match wins.
    #[serde(default)]
    pub rules: Vec<PathRuleConfig>,
    /// Command rules for `execute`, first match wins.
    #[serde(default)]
    pub commands: Vec<CommandRuleConfig>,
}

/// The outcome of a permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refuse; the text names the rule.
    Deny(String),
    /// Ask the approver; the text names the rule.
    Ask(String),
}

#[derive(Debug, Clone)]
struct PathRule {
    action: Action,
    operations: Vec<Access>,
    pattern: String,
    matcher: GlobMatcher,
    /// For `dir/**`: the directory itself, which the glob does not match.
    base: Option<String>,
    /// The directory every match lies under (`/` when matches may be anywhere).
    literal_dir: String,
}

impl PathRule {
    fn covers(&self, access: Access) -> bool {
        self.operations.is_empty() || self.operations.contains(&access)
    }

    fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path) || self.base.as_deref() == Some(path)
    }

    /// Whether some path strictly under `dir` could match.
    fn may_match_under(&self, dir: &VirtualPath) -> bool {
        let literal = VirtualPath::parse(&self.literal_dir).unwrap_or_else(|_| VirtualPath::root());
        literal.starts_with(dir) || dir.starts_with(&literal)
    }
}

#[derive(Debug, Clone)]
struct CommandRule {
    action: Action,
    regex: Regex,
}

/// Compiled permission rules. See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Permissions {
    read_only: bool,
    default: Action,
    paths: Vec<PathRule>,
    commands: Vec<CommandRule>,
}

impl Permissions {
    /// Everything is allowed.
    pub fn allow_all() -> Self {
        Permissions::default()
    }

    /// Reading is allowed; writing, deleting and executing are denied.
    pub fn read_only() -> Self {
        let mut permissions = Permissions::default();
        permissions.make_read_only();
        permissions
    }

    fn make_read_only(&mut self) {
        self.read_only = true;
        let rule = compile_path_rule(
            Action::Deny,
            vec![Access::Write, Access::Delete, Access::Execute],
            "/**",
        )
        .unwrap_or_else(|_| unreachable!("the read-only rule is a valid glob"));
        self.paths.insert(0, rule);
    }

    /// Compiles a configuration; a bad glob or regex gives `invalid_pattern`
    /// naming the rule.
    pub fn from_config(config: &PermissionsConfig) -> Result<Self, Error> {
        let mut permissions = Permissions {
            default: config.default,
            ..Permissions::default()
        };
        for (i, rule) in config.rules.iter().enumerate() {
            let compiled = compile_path_rule(rule.action, rule.operations.clone(), &rule.path)
                .map_err(|e| {
                    e.with_message(format!(
                        "permission rule {} has a bad path glob {:?}",
                        i + 1,
                        rule.path
                    ))
                })?;
            permissions.paths.push(compiled);
        }
        for (i, rule) in config.commands.iter().enumerate() {
            permissions.commands.push(CommandRule {
                action: rule.action,
                regex: compile_command_pattern(&rule.pattern).map_err(|e| {
                    e.with_message(format!(
                        "command rule {} has a bad regular expression {:?}",
                        i + 1,
                        rule.pattern
                    ))
                })?,
            });
        }
        if config.read_only {
            permissions.make_read_only();
        }
        Ok(permissions)
    }

    /// Adds the read-only preset in front of the current rules.
    pub fn with_read_only(mut self) -> Self {
        if !self.read_only {
            self.make_read_only();
        }
        self
    }

    /// Appends a path rule.
    pub fn with_path_rule(
        mut self,
        action: Action,
        operations: &[Access],
        path: &str,
    ) -> Result<Self, Error> {
        self.paths
            .push(compile_path_rule(action, operations.to_vec(), path)?);
        Ok(self)
    }

    /// Appends a command rule.
    pub fn with_command_rule(mut self, action: Action, pattern: &str) -> Result<Self, Error> {
        self.commands.push(CommandRule {
            action,
            regex: compile_command_pattern(pattern)?,
        });
        Ok(self)
    }

    /// Sets what happens when no rule matches.
    pub fn with_default(mut self, action: Action) -> Self {
        self.default = action;
        self
    }

    /// Whether the read-only preset is on (the tools that change things are
    /// then not offered at all).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The decision for `access` to `path`, and the index of the deciding rule.
    fn decide(&self, access: Access, path: &VirtualPath) -> (Decision, Option<usize>) {
        for (i, rule) in self.paths.iter().enumerate() {
            if rule.covers(access) && rule.matches(path.as_str()) {
                return (
                    self.decision(rule.action, || describe_path_rule(i, rule)),
                    Some(i),
                );
            }
        }
        let decision = self.decision(self.default, || {
            format!(
                "the default action ({}) for {}",
                self.default.as_str(),
                access.as_str()
            )
        });
        (decision, None)
    }

    fn decision(&self, action: Action, describe: impl FnOnce() -> String) -> Decision {
        match action {
            Action::Allow => Decision::Allow,
            Action::Deny => Decision::Deny(describe()),
            Action::Ask => Decision::Ask(describe()),
        }
    }

    /// May `access` be made to `path`?
    pub fn check_path(&self, access: Access, path: &VirtualPath) -> Decision {
        self.decide(access, path).0
    }

    /// May `access` be made to the directory `dir` and everything under it
    /// (a recursive delete)? Besides the rule that decides for `dir` itself,
    /// any deny or ask rule placed before it that could match a path under
    /// `dir` decides, without looking at what is actually there.
    pub fn check_tree(&self, access: Access, dir: &VirtualPath) -> Decision {
        let (decision, index) = self.decide(access, dir);
        let checked_before = index.unwrap_or(self.paths.len());
        for (i, rule) in self.paths.iter().enumerate().take(checked_before) {
            if rule.action != Action::Allow && rule.covers(access) && rule.may_match_under(dir) {
                return self.decision(rule.action, || {
                    format!(
                        "{} (it covers paths under {})",
                        describe_path_rule(i, rule),
                        dir.as_str()
                    )
                });
            }
        }
        decision
    }

    /// May `command` run? Command rules first; when none matches, the path
    /// rules for `execute` at `/`.
    pub fn check_command(&self, command: &str) -> Decision {
        for (i, rule) in self.commands.iter().enumerate() {
            if rule.regex.is_match(command) {
                return self.decision(rule.action, || {
                    format!(
                        "command rule {} ({} /{}/)",
                        i + 1,
                        rule.action.as_str(),
                        rule.regex.as_str()
                    )
                });
            }
        }
        self.check_path(Access::Execute, &VirtualPath::root())
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Allow => f.write_str("allowed"),
            Decision::Deny(rule) => write!(f, "denied by {rule}"),
            Decision::Ask(rule) => write!(f, "needs approval by {rule}"),
        }
    }
}

fn describe_path_rule(index: usize, rule: &PathRule) -> String {
    let operations = if rule.operations.is_empty() {
        "all operations".to_owned()
    } else {
        rule.operations
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "permission rule {} ({} {} on {})",
        index + 1,
        rule.action.as_str(),
        operations,
        rule.pattern
    )
}

fn compile_path_rule(
    action: Action,
    operations: Vec<Access>,
    pattern: &str,
) -> Result<PathRule, Error> {
    let anchored = if pattern.contains('/') {
        format!("/{}", pattern.trim_start_matches('/'))
    } else {
        format!("**/{pattern}")
    };
    let matcher = GlobBuilder::new(&anchored)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidPattern,
                format!("bad glob {pattern:?}: {e}"),
            )
        })?
        .compile_matcher();
    let base = anchored.strip_suffix("/**").map(|b| {
        if b.is_empty() {
            "/".to_owned()
        } else {
            b.to_owned()
        }
    });
    Ok(PathRule {
        action,
        operations,
        pattern: pattern.to_owned(),
        matcher,
        base,
        literal_dir: literal_dir(&anchored),
    })
}

/// The deepest directory of `anchored` before any glob metacharacter.
fn literal_dir(anchored: &str) -> String {
    let literal_end = anchored
        .find(['*', '?', '[', '{', '\\'])
        .unwrap_or(anchored.len());
    let literal = &anchored[..literal_end];
    match literal.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(slash) => literal[..slash].to_owned(),
    }
}

fn compile_command_pattern(pattern: &str) -> Result<Regex, Error> {
    Regex::new(pattern).map_err(|e| {
        Error::new(
            ErrorKind::InvalidPattern,
            format!("bad regular expression {pattern:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> VirtualPath {
        VirtualPath::parse(p).unwrap()
    }

    #[test]
    fn first_matching_rule_wins() {
        let p = Permissions::allow_all()
            .with_path_rule(Action::Allow, &[Access::Write], "/tmp/**")
            .unwrap()
            .with_path_rule(Action::Deny, &[Access::Write], "/**")
            .unwrap();
        assert_eq!(
            p.check_path(Access::Write, &path("/tmp/a")),
            Decision::Allow
        );
        assert!(
            matches!(p.check_path(Access::Write, &path("/a")), Decision::Deny(r) if r.contains("rule 2"))
        );
    }

    #[test]
    fn dir_double_star_rule_covers_the_directory_itself() {
        let p = Permissions::allow_all()
            .with_path_rule(Action::Deny, &[], "/secrets/**")
            .unwrap();
        assert!(matches!(
            p.check_path(Access::Delete, &path("/secrets")),
            Decision::Deny(_)
        ));
        assert!(matches!(
            p.check_path(Access::Read, &path("/secrets/.hidden/k")),
            Decision::Deny(_)
        ));
        assert_eq!(
            p.check_path(Access::Read, &path("/secretsx")),
            Decision::Allow
        );
    }

    #[test]
    fn pattern_without_slash_matches_names_at_any_depth() {
        let p = Permissions::allow_all()
            .with_path_rule(Action::Deny, &[Access::Read], "*.env")
            .unwrap();
        assert!(matches!(
            p.check_path(Access::Read, &path("/a/b/.env")),
            Decision::Deny(_)
        ));
        assert!(matches!(
            p.check_path(Access::Read, &path("/prod.env")),
            Decision::Deny(_)
        ));
        assert_eq!(
            p.check_path(Access::Write, &path("/prod.env")),
            Decision::Allow
        );
    }

    #[test]
    fn recursive_delete_of_a_parent_is_denied_by_a_rule_below_it() {
        let p = Permissions::allow_all()
            .with_path_rule(Action::Deny, &[Access::Delete], "/a/keep/**")
            .unwrap();
        assert!(
            matches!(p.check_tree(Access::Delete, &path("/a")), Decision::Deny(r) if r.contains("/a/keep/**"))
        );
        assert_eq!(p.check_tree(Access::Delete, &path("/b")), Decision::Allow);
    }

    #[test]
    fn command_rules_deny_by_regex() {
        let p = Permissions::allow_all()
            .with_command_rule(Action::Deny, r"\brm\s+-rf\b")
            .unwrap();
        assert!(
            matches!(p.check_command("cd x && rm -rf /"), Decision::Deny(r) if r.contains("command rule 1"))
        );
        assert_eq!(p.check_command("ls -la"), Decision::Allow);
    }

    #[test]
    fn read_only_preset_denies_changes_but_not_reads() {
        let p = Permissions::read_only();
        assert_eq!(p.check_path(Access::Read, &path("/x")), Decision::Allow);
        assert!(matches!(
            p.check_path(Access::Write, &path("/x")),
            Decision::Deny(_)
        ));
        assert!(matches!(p.check_command("echo hi"), Decision::Deny(_)));
    }

    #[test]
    fn ask_rules_yield_ask() {
        let p = Permissions::allow_all()
            .with_path_rule(Action::Ask, &[Access::Delete], "**")
            .unwrap();
        assert!(matches!(
            p.check_path(Access::Delete, &path("/x")),
            Decision::Ask(_)
        ));
    }

    #[test]
    fn a_bad_rule_glob_is_invalid_pattern() {
        let config = PermissionsConfig {
            rules: vec![PathRuleConfig {
                action: Action::Deny,
                operations: vec![],
                path: "/a/[".into(),
            }],
            ..PermissionsConfig::default()
        };
        let err = Permissions::from_config(&config).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPattern);
        assert!(err.message().contains("rule 1"));
    }
}
