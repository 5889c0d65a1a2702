//! The dispatcher: a tool name and JSON arguments in, a [`ToolOutput`] out.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{Backend, BackendHandle, Error, ErrorKind, Sandbox, VirtualPath};
use serde_json::Value;

use crate::args::validate;
use crate::output::{OutputLimits, ToolOutput};
use crate::permissions::{Access, Decision, Permissions};
use crate::read_state::ReadState;
use crate::specs::ToolName;

/// A tool as offered to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The name to call it by.
    pub name: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// The JSON Schema of a successful call's [`ToolOutput::structured`].
    pub output_schema: Value,
    /// Whether it only reads.
    pub read_only: bool,
    /// Whether it may overwrite or remove data.
    pub destructive: bool,
}

/// A call that an `ask` rule holds for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The tool called.
    pub tool: &'static str,
    /// The access it needs.
    pub access: Access,
    /// The path, or for `execute` the command line.
    pub target: String,
    /// The rule that asked.
    pub rule: String,
}

/// Decides calls that an `ask` rule holds (a person at a prompt, a policy
/// service). Without one, such calls are denied.
#[async_trait]
pub trait Approver: Send + Sync {
    /// Whether the call may go ahead.
    async fn approve(&self, request: &ApprovalRequest) -> bool;
}

/// The tools over one backend (and optionally a sandbox), with permission
/// rules and output limits.
#[derive(Clone)]
pub struct Toolset {
    /// The files, and the sandbox `execute` runs in when there is one.
    pub(crate) handle: BackendHandle,
    pub(crate) permissions: Permissions,
    pub(crate) limits: OutputLimits,
    approver: Option<Arc<dyn Approver>>,
    /// The session's read versions, when read-before-write is on.
    pub(crate) read_state: Option<Arc<ReadState>>,
}

impl std::fmt::Debug for Toolset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toolset")
            .field("execute", &self.handle.sandbox.is_some())
            .field("permissions", &self.permissions)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Toolset {
    /// File tools over `backend`; no `execute`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Toolset::from_handle(BackendHandle::from_backend(backend))
    }

    /// File tools over the handle's backend, and `execute` when it has a
    /// sandbox.
    pub fn from_handle(handle: BackendHandle) -> Self {
        Toolset {
            handle,
            permissions: Permissions::allow_all(),
            limits: OutputLimits::default(),
            approver: None,
            read_state: None,
        }
    }

    /// File tools and `execute` over one sandbox.
    pub fn with_sandbox(sandbox: Arc<dyn Sandbox>) -> Self {
        Toolset::from_handle(BackendHandle::from_sandbox(sandbox))
    }

    /// Runs `execute` in `sandbox` while files go to the backend given to
    /// [`Toolset::new`].
    pub fn sandbox(mut self, sandbox: Arc<dyn Sandbox>) -> Self {
        self.handle.sandbox = Some(sandbox);
        self
    }

    /// Sets the permission rules.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Sets the output limits.
    pub fn limits(mut self, limits: OutputLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Read before write (off by default): `write_file` over an existing
    /// file and `edit_file` fail with `conflict` unless this toolset read
    /// (or wrote) the file and it has not changed since. The record is one
    /// session's: give each session its own with [`Toolset::new_session`].
    pub fn read_before_write(mut self, on: bool) -> Self {
        self.read_state = on.then(|| Arc::new(ReadState::default()));
        self
    }

    /// A copy for another session: the same backend and rules, and an
    /// empty read-before-write record.
    pub fn new_session(&self) -> Toolset {
        self.clone().read_before_write(self.read_state.is_some())
    }

    /// Sets who decides calls held by `ask` rules.
    pub fn approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// The backend the file tools use.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        self.handle.backend()
    }

    /// The backend and sandbox the tools use.
    pub fn handle(&self) -> &BackendHandle {
        &self.handle
    }

    /// Whether a tool called `name` is offered (see [`Toolset::tools`]).
    pub fn offers_tool(&self, name: &str) -> bool {
        ToolName::parse(name).is_some_and(|t| self.offers(t))
    }

    fn offers(&self, tool: ToolName) -> bool {
        offers(tool, self.handle.sandbox.is_some(), &self.permissions)
    }

    /// The tools offered: `execute` only with a sandbox, and only the
    /// reading tools under the read-only preset.
    pub fn tools(&self) -> Vec<ToolSpec> {
        offered_tools(self.handle.sandbox.is_some(), &self.permissions)
    }

    /// Runs the tool `name` with JSON `arguments`. Never fails: errors come
    /// back as a [`ToolOutput`] with `is_error` set.
    pub async fn call(&self, name: &str, arguments: &Value) -> ToolOutput {
        match self.try_call(name, arguments).await {
            Ok(output) => output,
            Err(error) => ToolOutput::error(&error),
        }
    }

    async fn try_call(&self, name: &str, arguments: &Value) -> Result<ToolOutput, Error> {
        let tool = ToolName::parse(name)
            .filter(|t| self.offers(*t))
            .ok_or_else(|| self.unknown_tool(name))?;
        let args = validate(tool.as_str(), tool.fields(), arguments)?;
        match tool {
            ToolName::Ls => self.ls(&args).await,
            ToolName::ReadFile => self.read_file(&args).await,
            ToolName::WriteFile => self.write_file(&args).await,
            ToolName::EditFile => self.edit_file(&args).await,
            ToolName::Delete => self.delete(&args).await,
            ToolName::Glob => self.glob(&args).await,
            ToolName::Grep => self.grep(&args).await,
            ToolName::Execute => self.execute(&args).await,
        }
    }

    /// The error for a call of a tool that is not offered: it names the
    /// tools that are, and says why a known one is missing.
    pub fn unknown_tool(&self, name: &str) -> Error {
        let offered: Vec<&str> = self.tools().iter().map(|t| t.name).collect();
        let why = match ToolName::parse(name) {
            Some(ToolName::Execute) if self.handle.sandbox.is_none() => {
                " (this server has no sandbox, so commands cannot run)".to_owned()
            }
            Some(_) => " (the server is read-only)".to_owned(),
            None => String::new(),
        };
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "there is no tool named {name:?}{why}; the tools are {}",
                offered.join(", ")
            ),
        )
    }

    /// Applies the permission decision; `ask` goes to the approver.
    pub(crate) async fn permit(
        &self,
        tool: ToolName,
        access: Access,
        target: &str,
        decision: Decision,
    ) -> Result<(), Error> {
        let rule = match decision {
            Decision::Allow => return Ok(()),
            Decision::Deny(rule) => {
                return Err(denied(format!(
                    "{} of {target} is denied by {rule}",
                    access.as_str()
                )));
            }
            Decision::Ask(rule) => rule,
        };
        let request = ApprovalRequest {
            tool: tool.as_str(),
            access,
            target: target.to_owned(),
            rule: rule.clone(),
        };
        match &self.approver {
            Some(approver) if approver.approve(&request).await => Ok(()),
            Some(_) => Err(denied(format!(
                "{} of {target} needs approval under {rule}, and it was refused",
                access.as_str()
            ))),
            None => Err(denied(format!(
                "{} of {target} needs approval under {rule}, and no approver is configured",
                access.as_str()
            ))),
        }
    }

    pub(crate) async fn check_path(
        &self,
        tool: ToolName,
        access: Access,
        path: &str,
    ) -> Result<VirtualPath, Error> {
        let parsed = VirtualPath::parse_for(path, tool.operation())?;
        let decision = self.permissions.check_path(access, &parsed);
        self.permit(tool, access, parsed.as_str(), decision).await?;
        Ok(parsed)
    }

    pub(crate) fn readable(&self, path: &VirtualPath) -> bool {
        self.permissions.check_path(Access::Read, path) == Decision::Allow
    }
}

fn offers(tool: ToolName, execute: bool, permissions: &Permissions) -> bool {
    if tool == ToolName::Execute && !execute {
        return false;
    }
    !permissions.is_read_only() || tool.is_read_only()
}

/// The tools a [`Toolset`] with these permissions offers, with a sandbox
/// (`execute`) or without, for listing them without opening a backend.
pub fn offered_tools(execute: bool, permissions: &Permissions) -> Vec<ToolSpec> {
    ToolName::ALL
        .into_iter()
        .filter(|t| offers(*t, execute, permissions))
        .map(|t| ToolSpec {
            name: t.as_str(),
            description: t.description(),
            input_schema: t.input_schema(),
            output_schema: crate::output_schema::output_schema(t),
            read_only: t.is_read_only(),
            destructive: t.is_destructive(),
        })
        .collect()
}

pub(crate) fn denied(message: String) -> Error {
    Error::new(ErrorKind::PermissionDenied, message)
}
