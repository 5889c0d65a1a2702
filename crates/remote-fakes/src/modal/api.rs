//! The control plane: `modal.client.ModalClient`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tonic::{Request, Response, Status};

use super::grpc::{self, BoxFuture, BoxStream, Dispatch, HttpRequest, HttpResponse, meta};
use super::proto::*;
use super::{SandboxRecord, Shared};

/// The control-plane service.
#[derive(Clone)]
pub(crate) struct ApiService(pub(crate) Arc<Shared>);

impl Dispatch for ApiService {
    const PREFIX: &'static str = "/modal.client.ModalClient/";

    fn dispatch(&self, method: &str, request: HttpRequest) -> Option<BoxFuture<HttpResponse>> {
        let shared = self.0.clone();
        Some(match method {
            "AppGetOrCreate" => Box::pin(grpc::unary(request, move |r| async move {
                shared.app_get_or_create(r)
            })),
            "ImageGetOrCreate" => Box::pin(grpc::unary(request, move |r| async move {
                shared.image_get_or_create(r)
            })),
            "ImageJoinStreaming" => Box::pin(grpc::server_streaming(request, move |r| {
                shared.image_join(r)
            })),
            "SandboxCreate" => Box::pin(grpc::unary(request, move |r| async move {
                shared.sandbox_create(r)
            })),
            "SandboxGetTaskId" => Box::pin(grpc::unary(request, move |r| async move {
                shared.sandbox_task_id(r)
            })),
            "SandboxGetCommandRouterAccess" => {
                Box::pin(grpc::unary(request, move |r| async move {
                    shared.router_access(r)
                }))
            }
            "SandboxTerminate" => Box::pin(grpc::unary(request, move |r| async move {
                shared.sandbox_terminate(r)
            })),
            _ => return None,
        })
    }
}

fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

impl Shared {
    /// The token metadata check, then the call count and injected faults.
    fn admit<T>(&self, method: &str, request: &Request<T>) -> Result<(), Status> {
        let id = meta(request, "x-modal-token-id");
        let secret = meta(request, "x-modal-token-secret");
        match (id, secret) {
            (None, _) | (_, None) => {
                self.enter(method);
                return Err(Status::unauthenticated(
                    "missing x-modal-token-id or x-modal-token-secret metadata",
                ));
            }
            (Some(id), Some(secret)) if id != self.token_id || secret != self.token_secret => {
                self.enter(method);
                return Err(Status::unauthenticated("Token ID or secret is invalid"));
            }
            _ => {}
        }
        match self.enter(method) {
            Some(fault) => Err(fault),
            None => Ok(()),
        }
    }

    fn app_get_or_create(
        &self,
        request: Request<AppGetOrCreateRequest>,
    ) -> Result<Response<AppGetOrCreateResponse>, Status> {
        self.admit("AppGetOrCreate", &request)?;
        let r = request.into_inner();
        if r.app_name.trim().is_empty() {
            return Err(invalid("app_name is required"));
        }
        let key = (r.environment_name.clone(), r.app_name.clone());
        let mut state = self.lock();
        if let Some(id) = state.apps.get(&key) {
            return Ok(Response::new(AppGetOrCreateResponse { app_id: id.clone() }));
        }
        match r.object_creation_type {
            OBJECT_CREATION_TYPE_UNSPECIFIED => {
                Err(Status::not_found(format!("App '{}' not found", r.app_name)))
            }
            OBJECT_CREATION_TYPE_CREATE_IF_MISSING => {
                let id = state.next_id("ap");
                state.apps.insert(key, id.clone());
                Ok(Response::new(AppGetOrCreateResponse { app_id: id }))
            }
            other => Err(invalid(format!(
                "object_creation_type {other} is not served by this fake"
            ))),
        }
    }

    fn image_get_or_create(
        &self,
        request: Request<ImageGetOrCreateRequest>,
    ) -> Result<Response<ImageGetOrCreateResponse>, Status> {
        self.admit("ImageGetOrCreate", &request)?;
        let r = request.into_inner();
        let mut state = self.lock();
        if !state.apps.values().any(|id| *id == r.app_id) {
            return Err(Status::not_found(format!("app {:?} not found", r.app_id)));
        }
        let Some(image) = r.image else {
            return Err(invalid("image is required"));
        };
        let Some(first) = image.dockerfile_commands.first() else {
            return Err(invalid("image.dockerfile_commands is empty"));
        };
        if !first.starts_with("FROM ") || first.len() <= 5 {
            return Err(invalid("the first dockerfile command must be FROM <image>"));
        }
        if r.builder_version.is_empty() {
            return Err(invalid("builder_version is required"));
        }
        let recipe = format!(
            "{}|{}",
            r.builder_version,
            image.dockerfile_commands.join("\n")
        );
        if let Some(id) = state.recipes.get(&recipe).cloned() {
            let built = state.images.get(&id).copied().unwrap_or(false);
            let result = built.then(|| GenericResult {
                status: GENERIC_STATUS_SUCCESS,
                ..GenericResult::default()
            });
            return Ok(Response::new(ImageGetOrCreateResponse {
                image_id: id,
                result,
            }));
        }
        let id = state.next_id("im");
        state.recipes.insert(recipe, id.clone());
        state.images.insert(id.clone(), false);
        // A new image is still building: the client must join the build.
        Ok(Response::new(ImageGetOrCreateResponse {
            image_id: id,
            result: None,
        }))
    }

    fn image_join(
        self: &Arc<Self>,
        request: Request<ImageJoinStreamingRequest>,
    ) -> Result<Response<BoxStream<ImageJoinStreamingResponse>>, Status> {
        self.admit("ImageJoinStreaming", &request)?;
        let r = request.into_inner();
        if r.timeout.is_nan() || r.timeout <= 0.0 {
            return Err(invalid("timeout must be positive"));
        }
        {
            let mut state = self.lock();
            let Some(built) = state.images.get_mut(&r.image_id) else {
                return Err(Status::not_found(format!(
                    "image {:?} not found",
                    r.image_id
                )));
            };
            *built = true;
        }
        let mut items = Vec::new();
        if r.last_entry_id.is_empty() {
            items.push(Ok(ImageJoinStreamingResponse {
                task_logs: vec![TaskLogs {
                    data: "Building image...\n".to_owned(),
                }],
                entry_id: "1-0".to_owned(),
                ..Default::default()
            }));
        }
        items.push(Ok(ImageJoinStreamingResponse {
            result: Some(GenericResult {
                status: GENERIC_STATUS_SUCCESS,
                ..GenericResult::default()
            }),
            entry_id: "2-0".to_owned(),
            eof: true,
            ..Default::default()
        }));
        Ok(Response::new(Box::pin(futures::stream::iter(items))))
    }

    fn sandbox_create(
        self: &Arc<Self>,
        request: Request<SandboxCreateRequest>,
    ) -> Result<Response<SandboxCreateResponse>, Status> {
        self.admit("SandboxCreate", &request)?;
        let r = request.into_inner();
        let Some(definition) = r.definition else {
            return Err(invalid("definition is required"));
        };
        let mut state = self.lock();
        if !state.apps.values().any(|id| *id == r.app_id) {
            return Err(Status::not_found(format!("app {:?} not found", r.app_id)));
        }
        match state.images.get(&definition.image_id) {
            None => {
                return Err(Status::not_found(format!(
                    "image {:?} not found",
                    definition.image_id
                )));
            }
            Some(false) => {
                return Err(Status::failed_precondition(
                    "the image has not finished building",
                ));
            }
            Some(true) => {}
        }
        if definition.timeout_secs == 0 {
            return Err(invalid("definition.timeout_secs must be positive"));
        }
        let workdir = match &definition.workdir {
            Some(dir) if !dir.starts_with('/') => {
                return Err(invalid("definition.workdir must be an absolute path"));
            }
            Some(dir) => std::path::PathBuf::from(dir),
            None => self
                .base
                .path()
                .join(format!("sb-{}", uuid::Uuid::new_v4().simple())),
        };
        if !workdir.starts_with(self.base.path()) {
            // The fake runs commands on the host: keep them inside its root.
            return Err(Status::permission_denied(
                "the fake only accepts workdirs under its root directory",
            ));
        }
        std::fs::create_dir_all(&workdir)
            .map_err(|e| Status::internal(format!("creating the workdir: {e}")))?;
        let sandbox_id = state.next_id("sb");
        let task_id = state.next_id("ta");
        state.tasks.insert(task_id.clone(), sandbox_id.clone());
        state.sandboxes.insert(
            sandbox_id.clone(),
            SandboxRecord {
                task_id,
                workdir,
                env: definition
                    .environment_variables
                    .map(|m| m.contents)
                    .unwrap_or_default(),
                terminated: false,
                jwts: HashSet::new(),
            },
        );
        drop(state);
        // The sandbox's lifetime.
        let me = Arc::downgrade(self);
        let id = sandbox_id.clone();
        let lifetime = Duration::from_secs(u64::from(definition.timeout_secs));
        tokio::spawn(async move {
            tokio::time::sleep(lifetime).await;
            if let Some(me) = me.upgrade() {
                me.terminate(&id);
            }
        });
        Ok(Response::new(SandboxCreateResponse { sandbox_id }))
    }

    fn sandbox_task_id(
        &self,
        request: Request<SandboxGetTaskIdRequest>,
    ) -> Result<Response<SandboxGetTaskIdResponse>, Status> {
        self.admit("SandboxGetTaskId", &request)?;
        let r = request.into_inner();
        if r.timeout.is_none() {
            return Err(invalid("timeout is required (only legacy clients omit it)"));
        }
        let state = self.lock();
        let Some(sandbox) = state.sandboxes.get(&r.sandbox_id) else {
            return Err(Status::not_found(format!(
                "sandbox {:?} not found",
                r.sandbox_id
            )));
        };
        let task_result = sandbox.terminated.then(|| GenericResult {
            status: GENERIC_STATUS_TERMINATED,
            ..GenericResult::default()
        });
        Ok(Response::new(SandboxGetTaskIdResponse {
            task_id: Some(sandbox.task_id.clone()),
            task_result,
        }))
    }

    fn router_access(
        &self,
        request: Request<SandboxGetCommandRouterAccessRequest>,
    ) -> Result<Response<SandboxGetCommandRouterAccessResponse>, Status> {
        self.admit("SandboxGetCommandRouterAccess", &request)?;
        let mut state = self.lock();
        let sandbox_id = match request.into_inner().target {
            None => return Err(invalid("target (sandbox_id or task_id) is required")),
            Some(RouterTarget::SandboxId(id)) => id,
            Some(RouterTarget::TaskId(task)) => state
                .tasks
                .get(&task)
                .cloned()
                .ok_or_else(|| Status::not_found(format!("task {task:?} not found")))?,
        };
        let Some(sandbox) = state.sandboxes.get_mut(&sandbox_id) else {
            return Err(Status::not_found(format!(
                "sandbox {sandbox_id:?} not found"
            )));
        };
        if sandbox.terminated {
            return Err(Status::failed_precondition("the sandbox has terminated"));
        }
        let jwt = make_jwt(&sandbox.task_id);
        sandbox.jwts.insert(jwt.clone());
        Ok(Response::new(SandboxGetCommandRouterAccessResponse {
            jwt,
            url: self.router_url.clone(),
            worker_ipv4_address: String::new(),
        }))
    }

    fn sandbox_terminate(
        &self,
        request: Request<SandboxTerminateRequest>,
    ) -> Result<Response<SandboxTerminateResponse>, Status> {
        self.admit("SandboxTerminate", &request)?;
        let r = request.into_inner();
        let already = match self.lock().sandboxes.get(&r.sandbox_id) {
            None => {
                return Err(Status::not_found(format!(
                    "sandbox {:?} not found",
                    r.sandbox_id
                )));
            }
            Some(sandbox) => sandbox.terminated,
        };
        self.terminate(&r.sandbox_id);
        let existing_result = already.then(|| GenericResult {
            status: GENERIC_STATUS_TERMINATED,
            ..GenericResult::default()
        });
        Ok(Response::new(SandboxTerminateResponse { existing_result }))
    }
}

/// A JWT-shaped token (header.payload.signature) naming the task.
fn make_jwt(task_id: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or(0);
    format!(
        "{}.{}.{}",
        b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(format!(r#"{{"task_id":"{task_id}","exp":{exp}}}"#)),
        uuid::Uuid::new_v4().simple()
    )
}
