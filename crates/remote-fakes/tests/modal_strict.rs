//! The fake Modal server refuses calls that break the protos' contract, so
//! a client that passes against it is not passing by luck.

use std::time::Duration;

use remote_fakes::modal::proto::*;
use remote_fakes::modal::{FakeModal, TOKEN_ID, TOKEN_SECRET};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

const API: &str = "/modal.client.ModalClient/";
const ROUTER: &str = "/modal.task_command_router.TaskCommandRouter/";

/// One raw unary call with the given metadata.
async fn call<Req, Resp>(
    url: &str,
    path: String,
    message: Req,
    metadata: &[(&'static str, String)],
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .expect("connect to the fake");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(message);
    for (name, value) in metadata {
        request.metadata_mut().insert(
            *name,
            MetadataValue::try_from(value.as_str()).expect("ascii"),
        );
    }
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    let path = PathAndQuery::try_from(path).expect("path");
    grpc.unary(request, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

fn token() -> Vec<(&'static str, String)> {
    vec![
        ("x-modal-token-id", TOKEN_ID.to_owned()),
        ("x-modal-token-secret", TOKEN_SECRET.to_owned()),
    ]
}

async fn api<Req, Resp>(fake: &FakeModal, method: &str, message: Req) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    call(&fake.api_url(), format!("{API}{method}"), message, &token()).await
}

/// A running sandbox: (sandbox id, task id, jwt).
async fn sandbox(fake: &FakeModal) -> (String, String, String) {
    let app: AppGetOrCreateResponse = api(
        fake,
        "AppGetOrCreate",
        AppGetOrCreateRequest {
            app_name: "strict".into(),
            environment_name: String::new(),
            object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
        },
    )
    .await
    .expect("app");
    let image: ImageGetOrCreateResponse = api(
        fake,
        "ImageGetOrCreate",
        ImageGetOrCreateRequest {
            image: Some(Image {
                dockerfile_commands: vec!["FROM debian:bookworm-slim".into()],
            }),
            app_id: app.app_id.clone(),
            builder_version: "2024.10".into(),
        },
    )
    .await
    .expect("image");
    // Join the build so the image can be used.
    let channel = tonic::transport::Endpoint::from_shared(fake.api_url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(ImageJoinStreamingRequest {
        image_id: image.image_id.clone(),
        timeout: 55.0,
        last_entry_id: String::new(),
    });
    for (name, value) in token() {
        request.metadata_mut().insert(
            name,
            MetadataValue::try_from(value.as_str()).expect("ascii"),
        );
    }
    let codec =
        tonic_prost::ProstCodec::<ImageJoinStreamingRequest, ImageJoinStreamingResponse>::default();
    let path = PathAndQuery::from_static("/modal.client.ModalClient/ImageJoinStreaming");
    let mut stream = grpc
        .server_streaming(request, path, codec)
        .await
        .expect("join")
        .into_inner();
    while stream.message().await.expect("join item").is_some() {}
    let created: SandboxCreateResponse = api(
        fake,
        "SandboxCreate",
        SandboxCreateRequest {
            app_id: app.app_id,
            definition: Some(SandboxDefinition {
                image_id: image.image_id,
                timeout_secs: 300,
                workdir: Some(fake.new_workdir()),
                ..Default::default()
            }),
            tags: Vec::new(),
        },
    )
    .await
    .expect("sandbox");
    let task: SandboxGetTaskIdResponse = api(
        fake,
        "SandboxGetTaskId",
        SandboxGetTaskIdRequest {
            sandbox_id: created.sandbox_id.clone(),
            timeout: Some(10.0),
            wait_until_ready: false,
        },
    )
    .await
    .expect("task");
    let access: SandboxGetCommandRouterAccessResponse = api(
        fake,
        "SandboxGetCommandRouterAccess",
        SandboxGetCommandRouterAccessRequest {
            target: Some(RouterTarget::SandboxId(created.sandbox_id.clone())),
        },
    )
    .await
    .expect("router access");
    (
        created.sandbox_id,
        task.task_id.expect("task id"),
        access.jwt,
    )
}

fn exec_start(task_id: &str, exec_id: &str, args: &[&str]) -> TaskExecStartRequest {
    TaskExecStartRequest {
        task_id: task_id.to_owned(),
        exec_id: exec_id.to_owned(),
        command_args: args.iter().map(|a| (*a).to_owned()).collect(),
        stdout_config: 1,
        stderr_config: 1,
        ..Default::default()
    }
}

async fn router<Req, Resp>(
    fake: &FakeModal,
    method: &str,
    message: Req,
    jwt: &str,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let auth = vec![("authorization", format!("Bearer {jwt}"))];
    call(
        fake.router_url(),
        format!("{ROUTER}{method}"),
        message,
        &auth,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn control_plane_calls_without_the_token_metadata_are_unauthenticated() {
    let fake = FakeModal::start().await;
    let request = AppGetOrCreateRequest {
        app_name: "a".into(),
        object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
        ..Default::default()
    };
    let only_id = vec![("x-modal-token-id", TOKEN_ID.to_owned())];
    let e = call::<_, AppGetOrCreateResponse>(
        &fake.api_url(),
        format!("{API}AppGetOrCreate"),
        request.clone(),
        &only_id,
    )
    .await
    .expect_err("no secret");
    assert_eq!(e.code(), Code::Unauthenticated);
    let wrong = vec![
        ("x-modal-token-id", TOKEN_ID.to_owned()),
        ("x-modal-token-secret", "as-wrong".to_owned()),
    ];
    let e = call::<_, AppGetOrCreateResponse>(
        &fake.api_url(),
        format!("{API}AppGetOrCreate"),
        request,
        &wrong,
    )
    .await
    .expect_err("wrong secret");
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn app_lookup_without_create_if_missing_is_not_found_and_names_are_required() {
    let fake = FakeModal::start().await;
    let lookup = AppGetOrCreateRequest {
        app_name: "missing".into(),
        object_creation_type: OBJECT_CREATION_TYPE_UNSPECIFIED,
        ..Default::default()
    };
    let e = api::<_, AppGetOrCreateResponse>(&fake, "AppGetOrCreate", lookup)
        .await
        .expect_err("lookup");
    assert_eq!(e.code(), Code::NotFound);
    let unnamed = AppGetOrCreateRequest {
        object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
        ..Default::default()
    };
    let e = api::<_, AppGetOrCreateResponse>(&fake, "AppGetOrCreate", unnamed)
        .await
        .expect_err("no name");
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_from_an_image_still_building_is_refused() {
    let fake = FakeModal::start().await;
    let app: AppGetOrCreateResponse = api(
        &fake,
        "AppGetOrCreate",
        AppGetOrCreateRequest {
            app_name: "building".into(),
            object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
            ..Default::default()
        },
    )
    .await
    .expect("app");
    let image: ImageGetOrCreateResponse = api(
        &fake,
        "ImageGetOrCreate",
        ImageGetOrCreateRequest {
            image: Some(Image {
                dockerfile_commands: vec!["FROM alpine:3".into()],
            }),
            app_id: app.app_id.clone(),
            builder_version: "2024.10".into(),
        },
    )
    .await
    .expect("image");
    assert!(image.result.is_none(), "a new image is still building");
    let e = api::<_, SandboxCreateResponse>(
        &fake,
        "SandboxCreate",
        SandboxCreateRequest {
            app_id: app.app_id,
            definition: Some(SandboxDefinition {
                image_id: image.image_id,
                timeout_secs: 60,
                ..Default::default()
            }),
            tags: Vec::new(),
        },
    )
    .await
    .expect_err("not built");
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread")]
async fn image_without_a_from_line_or_builder_version_is_invalid() {
    let fake = FakeModal::start().await;
    let app: AppGetOrCreateResponse = api(
        &fake,
        "AppGetOrCreate",
        AppGetOrCreateRequest {
            app_name: "img".into(),
            object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
            ..Default::default()
        },
    )
    .await
    .expect("app");
    for (commands, version) in [(vec!["RUN true"], "2024.10"), (vec!["FROM alpine:3"], "")] {
        let e = api::<_, ImageGetOrCreateResponse>(
            &fake,
            "ImageGetOrCreate",
            ImageGetOrCreateRequest {
                image: Some(Image {
                    dockerfile_commands: commands.iter().map(|c| (*c).to_owned()).collect(),
                }),
                app_id: app.app_id.clone(),
                builder_version: version.into(),
            },
        )
        .await
        .expect_err("invalid image");
        assert_eq!(e.code(), Code::InvalidArgument, "{commands:?} {version:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn task_id_request_without_a_timeout_is_invalid() {
    let fake = FakeModal::start().await;
    let (sandbox_id, _, _) = sandbox(&fake).await;
    let e = api::<_, SandboxGetTaskIdResponse>(
        &fake,
        "SandboxGetTaskId",
        SandboxGetTaskIdRequest {
            sandbox_id,
            timeout: None,
            wait_until_ready: false,
        },
    )
    .await
    .expect_err("legacy request");
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn router_calls_need_the_jwt_issued_for_that_task() {
    let fake = FakeModal::start().await;
    let (_, task_id, jwt) = sandbox(&fake).await;
    let (_, _, other_jwt) = sandbox(&fake).await;
    let start = exec_start(&task_id, "e1", &["true"]);
    let e = router::<_, Empty>(&fake, "TaskExecStart", start.clone(), "not.a.jwt")
        .await
        .expect_err("wrong jwt");
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = router::<_, Empty>(&fake, "TaskExecStart", start.clone(), &other_jwt)
        .await
        .expect_err("another task's jwt");
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = call::<_, Empty>(
        fake.router_url(),
        format!("{ROUTER}TaskExecStart"),
        start.clone(),
        &token(),
    )
    .await
    .expect_err("the control-plane token is not a router token");
    assert_eq!(e.code(), Code::Unauthenticated);
    router::<_, Empty>(&fake, "TaskExecStart", start, &jwt)
        .await
        .expect("right jwt");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_start_needs_an_exec_id_and_arguments_and_is_idempotent() {
    let fake = FakeModal::start().await;
    let (_, task_id, jwt) = sandbox(&fake).await;
    let e = router::<_, Empty>(
        &fake,
        "TaskExecStart",
        exec_start(&task_id, "", &["true"]),
        &jwt,
    )
    .await
    .expect_err("no exec id");
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = router::<_, Empty>(
        &fake,
        "TaskExecStart",
        exec_start(&task_id, "e2", &[]),
        &jwt,
    )
    .await
    .expect_err("no args");
    assert_eq!(e.code(), Code::InvalidArgument);
    let marker = format!("{}/started", fake.root().display());
    let script = format!("echo x >> {marker}");
    let start = exec_start(&task_id, "e3", &["sh", "-c", &script]);
    router::<_, Empty>(&fake, "TaskExecStart", start.clone(), &jwt)
        .await
        .expect("start");
    router::<_, Empty>(&fake, "TaskExecStart", start, &jwt)
        .await
        .expect("same exec id again");
    let wait: TaskExecWaitResponse = router(
        &fake,
        "TaskExecWait",
        TaskExecWaitRequest {
            task_id: task_id.clone(),
            exec_id: "e3".into(),
        },
        &jwt,
    )
    .await
    .expect("wait");
    assert_eq!(wait.exit_status, Some(ExitStatus::Code(0)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let runs = std::fs::read_to_string(&marker).expect("marker");
    assert_eq!(
        runs, "x\n",
        "a repeated start with the same exec_id runs the command once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_writes_past_the_written_offset_are_out_of_range() {
    let fake = FakeModal::start().await;
    let (_, task_id, jwt) = sandbox(&fake).await;
    router::<_, Empty>(
        &fake,
        "TaskExecStart",
        exec_start(&task_id, "cat", &["cat"]),
        &jwt,
    )
    .await
    .expect("start");
    let write = |offset: u64, eof: bool| TaskExecStdinWriteRequest {
        task_id: task_id.clone(),
        exec_id: "cat".into(),
        offset,
        data: b"abc".to_vec(),
        eof,
    };
    let e = router::<_, Empty>(&fake, "TaskExecStdinWrite", write(5, false), &jwt)
        .await
        .expect_err("gap");
    assert_eq!(e.code(), Code::OutOfRange);
    router::<_, Empty>(&fake, "TaskExecStdinWrite", write(0, false), &jwt)
        .await
        .expect("first");
    router::<_, Empty>(&fake, "TaskExecStdinWrite", write(0, true), &jwt)
        .await
        .expect("repeat is skipped");
    let wait: TaskExecWaitResponse = router(
        &fake,
        "TaskExecWait",
        TaskExecWaitRequest {
            task_id,
            exec_id: "cat".into(),
        },
        &jwt,
    )
    .await
    .expect("wait");
    assert_eq!(wait.exit_status, Some(ExitStatus::Code(0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn methods_outside_the_flow_are_unimplemented() {
    let fake = FakeModal::start().await;
    let e = api::<_, Empty>(&fake, "SandboxList", Empty {})
        .await
        .expect_err("not served");
    assert_eq!(e.code(), Code::Unimplemented);
}
