//! Building backends: what each enabled feature makes, and the error a
//! compiled-out scheme gives. Run with different `--features` to cover both
//! sides (`cargo xtask ci` checks every feature alone).

#![allow(unused_imports)]

use agent_backend::{BackendExt, BackendSpec, ErrorKind, Operation, open};

/// Builds `location` and returns the error, which must be `unsupported`
/// naming `feature`.
#[allow(dead_code)]
async fn assert_compiled_out(location: &str, feature: &str) {
    let err = open(location).await.expect_err(location);
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{location}: {err}");
    assert_eq!(err.operation(), Some(Operation::Create));
    assert!(
        err.message().contains(&format!("`{feature}`")),
        "{location}: the error should name the feature `{feature}`: {err}"
    );
}

#[cfg(feature = "state")]
#[tokio::test]
async fn state_location_builds_an_in_memory_store_with_its_quota() {
    let built = open("state://?quota=8").await.expect("state builds");
    assert!(built.sandbox().is_none());
    built
        .backend()
        .write_str("/a", "12345678")
        .await
        .expect("within quota");
    let err = built
        .backend()
        .write_str("/b", "9")
        .await
        .expect_err("over quota");
    assert_eq!(err.kind(), ErrorKind::QuotaExceeded);
    let err = built
        .require_sandbox()
        .err()
        .expect("a store runs no commands");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[cfg(not(feature = "state"))]
#[tokio::test]
async fn state_compiled_out_names_its_feature() {
    assert_compiled_out("state://", "state").await;
}

#[cfg(feature = "local")]
#[tokio::test]
async fn file_location_creates_a_missing_directory_as_the_server_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("fresh").join("workspace");
    let built = open(&format!("file://{}", root.display()))
        .await
        .expect("a missing directory is created");
    assert!(root.is_dir());
    built
        .backend()
        .write_str("/notes.md", "hello\n")
        .await
        .expect("write");
    assert_eq!(
        std::fs::read_to_string(root.join("notes.md")).expect("on disk"),
        "hello\n"
    );
}

#[cfg(feature = "local")]
#[tokio::test]
async fn file_location_under_a_file_is_refused_with_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("plain"), "x").expect("seed");
    let root = dir.path().join("plain").join("ws");
    let err = open(&format!("file://{}", root.display()))
        .await
        .expect_err("a file is in the way");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("plain"), "{err}");
}

#[cfg(feature = "local")]
#[tokio::test]
async fn file_location_builds_a_store_over_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("seed.txt"), "from the host").expect("seed");
    let location = format!("file://{}", dir.path().display());
    let built = open(&location).await.expect("local builds");
    assert_eq!(
        built
            .backend()
            .read_to_string("/seed.txt")
            .await
            .expect("read"),
        "from the host"
    );
}

#[cfg(not(feature = "local"))]
#[tokio::test]
async fn local_compiled_out_names_its_feature() {
    assert_compiled_out("file:///tmp", "local").await;
}

#[cfg(feature = "local-exec")]
#[tokio::test]
async fn file_location_with_exec_builds_a_sandbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let built = open(&format!("file://{}?exec=true", dir.path().display()))
        .await
        .expect("local sandbox builds");
    let sandbox = built.require_sandbox().expect("a sandbox");
    built
        .backend()
        .write_str("/x.txt", "hi")
        .await
        .expect("write");
    let out = sandbox
        .execute(agent_backend::ExecRequest::new("cat x.txt"))
        .await
        .expect("runs");
    assert_eq!(out.stdout, b"hi");
    built.close().await.expect("close");
}

#[cfg(not(feature = "local-exec"))]
#[tokio::test]
async fn local_exec_compiled_out_names_its_feature() {
    assert_compiled_out("file:///tmp?exec=true", "local-exec").await;
}

#[cfg(all(feature = "composite", feature = "state"))]
#[tokio::test]
async fn composite_config_builds_routes() {
    let spec = BackendSpec::from_toml(
        "default = \"state://\"\n[routes]\n\"/memories/\" = \"state://?quota=1k\"\n",
    )
    .expect("valid config");
    let built = spec.build().await.expect("composite builds");
    built
        .backend()
        .write_str("/memories/a.md", "kept")
        .await
        .expect("write");
    let root = built.backend().ls("/").await.expect("ls");
    assert_eq!(root[0].path.as_str(), "/memories");
    assert!(built.sandbox().is_none());
}

#[cfg(all(feature = "composite", not(feature = "docker")))]
#[tokio::test]
async fn composite_route_error_names_the_route_and_the_feature() {
    let spec = BackendSpec::from_toml(
        "default = \"state://\"\n[routes]\n\"/box/\" = \"docker://python:3.12\"\n",
    )
    .expect("valid config");
    let err = spec.build().await.expect_err("docker is compiled out");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().starts_with("route /box/"), "{err}");
    assert!(err.message().contains("`docker`"), "{err}");
}

#[cfg(not(feature = "composite"))]
#[tokio::test]
async fn composite_compiled_out_names_its_feature() {
    let spec = BackendSpec::from_toml("default = \"state://\"").expect("valid config");
    let err = spec.build().await.expect_err("composite is compiled out");
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("`composite`"), "{err}");
}

/// Needs a Docker engine and the test image: `cargo xtask docker-up &&
/// cargo xtask docker-image`.
#[cfg(feature = "docker")]
#[tokio::test(flavor = "multi_thread")]
async fn docker_location_builds_a_limited_container_sandbox() {
    let built = open("docker://agent-backend-test:busybox?memory=256m&cpus=0.5&pids=64")
        .await
        .unwrap_or_else(|e| {
            panic!("{e}\n(needs `cargo xtask docker-up && cargo xtask docker-image`)")
        });
    let sandbox = built.require_sandbox().expect("a sandbox").clone();
    built
        .backend()
        .write_str("/in.txt", "through the builder")
        .await
        .expect("write");
    let out = sandbox
        .execute(agent_backend::ExecRequest::new(
            "cat in.txt; echo; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        ))
        .await
        .expect("runs");
    let text = out.stdout_text();
    built.close().await.expect("close");
    assert!(text.starts_with("through the builder\n"), "{text}");
    assert!(
        text.contains(&(256u64 << 20).to_string()),
        "memory limit not applied: {text}"
    );
}

#[cfg(not(feature = "docker"))]
#[tokio::test]
async fn docker_compiled_out_names_its_feature() {
    assert_compiled_out("docker://python:3.12?memory=512m&cpus=1", "docker").await;
}

#[cfg(not(feature = "s3"))]
#[tokio::test]
async fn s3_compiled_out_names_its_feature() {
    assert_compiled_out("s3://bucket/prefix?region=us-east-1", "s3").await;
}

#[cfg(feature = "e2b")]
#[tokio::test]
async fn e2b_location_naming_an_unset_key_variable_says_so() {
    let err = open("e2b://base?api_key_env=AGENT_BACKEND_SURELY_UNSET_VAR")
        .await
        .expect_err("no key");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message().contains("AGENT_BACKEND_SURELY_UNSET_VAR"),
        "{err}"
    );
}

#[cfg(not(feature = "e2b"))]
#[tokio::test]
async fn e2b_compiled_out_names_its_feature() {
    assert_compiled_out("e2b://base", "e2b").await;
}

#[cfg(not(feature = "daytona"))]
#[tokio::test]
async fn daytona_compiled_out_names_its_feature() {
    assert_compiled_out("daytona://snap", "daytona").await;
}

#[cfg(not(feature = "runloop"))]
#[tokio::test]
async fn runloop_compiled_out_names_its_feature() {
    assert_compiled_out("runloop://bpt", "runloop").await;
}

#[cfg(not(feature = "modal"))]
#[tokio::test]
async fn modal_compiled_out_names_its_feature() {
    assert_compiled_out("modal://app", "modal").await;
}
