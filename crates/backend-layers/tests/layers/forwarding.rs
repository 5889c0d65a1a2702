//! Every layer forwards the provided methods to the inner backend's own
//! versions, and stays a sandbox around a sandbox.

use std::sync::Arc;
use std::time::Duration;

use backend_core::{Backend, BackendExt, ExecRequest, FileUpload, Sandbox};
use backend_layers::{ByteLimits, LayerExt, RetryPolicy, Timeouts};

use super::support::{Probe, local_sandbox};

/// Each layer around `probe`, by name.
fn each_layer(probe: &Arc<Probe>) -> Vec<(&'static str, Arc<dyn Backend>)> {
    vec![
        ("read_only", probe.clone().read_only()),
        ("traced", probe.clone().traced("probe")),
        (
            "read_retry",
            probe.clone().with_read_retry(RetryPolicy::default()),
        ),
        (
            "timeout",
            probe
                .clone()
                .with_timeout(Timeouts::new(Duration::from_secs(30))),
        ),
        (
            "limits",
            probe.clone().with_limits(
                ByteLimits::new()
                    .max_read_bytes(1 << 20)
                    .max_write_bytes(1 << 20),
            ),
        ),
    ]
}

#[tokio::test]
async fn read_and_download_files_reach_the_inner_override() {
    let probe = Probe::new();
    probe.files.write_str("/a", "a\n").await.expect("seed");
    let layers = each_layer(&probe);
    for (name, layered) in &layers {
        let page = layered.read("/a", 0, 10).await.expect(name);
        assert_eq!(page.content, "a\n", "{name}");
        let downloads = layered.download_files(vec!["/a".into()]).await;
        assert_eq!(downloads[0].content.as_deref(), Some(&b"a\n"[..]), "{name}");
    }
    assert_eq!(Probe::count(&probe.reads), layers.len());
    assert_eq!(Probe::count(&probe.downloads), layers.len());
}

#[tokio::test]
async fn upload_files_reaches_the_inner_override() {
    let probe = Probe::new();
    let writable: Vec<_> = each_layer(&probe)
        .into_iter()
        .filter(|(name, _)| *name != "read_only")
        .collect();
    for (name, layered) in &writable {
        let results = layered
            .upload_files(vec![FileUpload::new(format!("/{name}"), b"x".to_vec())])
            .await;
        assert!(results[0].is_ok(), "{name}: {:?}", results[0].error);
    }
    assert_eq!(Probe::count(&probe.uploads), writable.len());
}

#[tokio::test]
async fn a_stack_of_layers_around_a_sandbox_is_a_sandbox() {
    let sandbox = local_sandbox();
    let layered: Arc<dyn Sandbox> = sandbox
        .clone()
        .with_limits(ByteLimits::new().max_read_bytes(1 << 20))
        .with_timeout(Duration::from_secs(30))
        .traced("local");
    assert!(layered.capabilities().execute);
    assert_eq!(layered.id(), sandbox.id());
    layered
        .write_str("/in.txt", "from the layers\n")
        .await
        .expect("write");
    let output = layered
        .execute(ExecRequest::new("cat in.txt"))
        .await
        .expect("execute");
    assert_eq!(output.stdout, b"from the layers\n");
    layered.close().await.expect("close");
}

#[tokio::test]
async fn layers_stack_on_trait_objects_too() {
    let backend: Arc<dyn Backend> = Arc::new(backend_state::StateBackend::new());
    let backend: Arc<dyn Backend> = backend.traced("state").read_only();
    assert!(backend.write("/a", Vec::new()).await.is_err());
    let sandbox: Arc<dyn Sandbox> = local_sandbox();
    let sandbox: Arc<dyn Sandbox> = sandbox
        .with_read_retry(RetryPolicy::never())
        .with_timeout(Duration::from_secs(30));
    let output = sandbox
        .execute(ExecRequest::new("echo ok"))
        .await
        .expect("execute");
    assert_eq!(output.stdout, b"ok\n");
}
