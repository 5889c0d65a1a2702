//! Runloop against its fake: behaviour, faults, and the fake's strictness.
#![cfg(feature = "runloop")]

use std::time::{Duration, Instant};

use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, Sandbox};
use backend_remote::RetryPolicy;
use backend_remote::runloop::{RunloopConfig, RunloopSandbox};
use remote_fakes::Fault;
use remote_fakes::runloop::FakeRunloop;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        ..Default::default()
    }
}

fn config(fake: &FakeRunloop) -> RunloopConfig {
    RunloopConfig::new(fake.api_key())
        .api_url(fake.base_url())
        .root_dir(fake.new_workdir())
        .retry(fast_retries())
}

async fn sandbox(fake: &FakeRunloop) -> RunloopSandbox {
    RunloopSandbox::create(config(fake))
        .await
        .expect("create a Runloop devbox on the fake")
}

#[tokio::test]
async fn cwd_and_env_reach_the_command_through_the_quoted_command_line() {
    let fake = FakeRunloop::start().await;
    let sb = sandbox(&fake).await;
    sb.write_str("/it's dir/f.txt", "x").await.expect("write");
    let out = sb
        .execute(
            ExecRequest::new("pwd | sed 's|.*/||'; echo \"$V\"")
                .workdir("/it's dir")
                .env("V", "a 'quoted' $value"),
        )
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "it's dir\na 'quoted' $value\n");
    let names: Vec<String> = sb
        .ls("/it's dir")
        .await
        .expect("ls")
        .into_iter()
        .map(|f| f.path.into_string())
        .collect();
    assert_eq!(names, ["/it's dir/f.txt"]);
    sb.delete("/it's dir", true).await.expect("delete");
    assert!(!sb.exists("/it's dir").await.expect("exists"));
    sb.close().await.expect("close");
    assert_eq!(fake.live_devboxes(), 0);
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_by_the_client() {
    let fake = FakeRunloop::start().await;
    let sb = sandbox(&fake).await;
    let began = Instant::now();
    let out = sb
        .execute(ExecRequest::new("sleep 30").timeout(Duration::from_millis(1500)))
        .await
        .expect("execute");
    assert!(out.timed_out());
    assert!(
        began.elapsed() < Duration::from_millis(2500),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(fake.faults().hits("kill"), 1);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn an_expired_long_poll_hold_is_reissued_until_the_devbox_runs() {
    let fake = FakeRunloop::start().await;
    fake.faults().inject("wait", Fault::Status(408), 2);
    let sb = sandbox(&fake).await;
    assert_eq!(fake.faults().hits("wait"), 3);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn rate_limited_create_is_retried_after_retry_after_ms() {
    let fake = FakeRunloop::start().await;
    fake.faults().inject(
        "create",
        Fault::RateLimited {
            retry_after: Duration::from_millis(300),
        },
        1,
    );
    let began = Instant::now();
    let sb = sandbox(&fake).await;
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "retry-after-ms was not honoured"
    );
    assert_eq!(fake.faults().hits("create"), 2);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn server_error_on_create_is_retried_with_the_same_request_id_and_makes_one_devbox() {
    let fake = FakeRunloop::start().await;
    fake.faults().inject("create", Fault::Status(502), 1);
    let sb = sandbox(&fake).await;
    assert_eq!(fake.faults().hits("create"), 2);
    assert_eq!(fake.live_devboxes(), 1);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn server_error_on_every_create_attempt_is_unavailable() {
    let fake = FakeRunloop::start().await;
    fake.faults().inject("create", Fault::Status(500), 10);
    let e = RunloopSandbox::create(config(&fake))
        .await
        .expect_err("create fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.message().contains("injected failure 500"),
        "{}",
        e.message()
    );
    assert_eq!(
        fake.faults().hits("create"),
        4,
        "the first attempt and three retries"
    );
}

#[tokio::test]
async fn a_retried_execute_runs_the_command_once() {
    let fake = FakeRunloop::start().await;
    let sb = sandbox(&fake).await;
    let (hits_before, runs_before) = (fake.faults().hits("execute"), fake.executions());
    fake.faults().inject("execute", Fault::Status(503), 1);
    let out = sb
        .execute(ExecRequest::new("echo once >> log.txt; cat log.txt"))
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "once\n");
    assert_eq!(
        fake.faults().hits("execute"),
        hits_before + 2,
        "one failed attempt and one retry"
    );
    assert_eq!(
        fake.executions(),
        runs_before + 1,
        "the retry reused the command_id"
    );
    sb.close().await.expect("close");
}

#[tokio::test]
async fn dropped_connection_while_waiting_for_a_command_is_unavailable_not_a_hang() {
    let fake = FakeRunloop::start().await;
    let sb = sandbox(&fake).await;
    fake.faults()
        .inject("wait_command", Fault::DropConnection, 100);
    let began = Instant::now();
    let e = sb
        .execute(ExecRequest::new("sleep 20"))
        .await
        .expect_err("execute fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(began.elapsed() < Duration::from_secs(6));
    sb.close().await.expect("close");
}

#[tokio::test]
async fn wrong_api_key_names_the_env_var_and_hides_the_key() {
    let fake = FakeRunloop::start().await;
    let bad = RunloopConfig::new("ak_wrong_secret_key").api_url(fake.base_url());
    let e = RunloopSandbox::create(bad).await.expect_err("401");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.message().contains("RUNLOOP_API_KEY"), "{}", e.message());
    assert!(!format!("{e:?} {e}").contains("wrong_secret"));
}

#[test]
fn config_debug_output_never_shows_the_key() {
    let shown = format!("{:?}", RunloopConfig::new("ak_top_secret_value"));
    assert!(!shown.contains("top_secret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

mod strict_fake {
    use super::*;
    use serde_json::json;

    async fn running(fake: &FakeRunloop) -> String {
        let http = reqwest::Client::new();
        let auth = format!("Bearer {}", fake.api_key());
        let created: serde_json::Value = http
            .post(format!("{}/v1/devboxes", fake.base_url()))
            .header("Authorization", &auth)
            .json(&json!({}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let waited = http
            .post(format!(
                "{}/v1/devboxes/{id}/wait_for_status",
                fake.base_url()
            ))
            .header("Authorization", &auth)
            .json(&json!({ "statuses": ["running"] }))
            .send()
            .await
            .expect("request");
        assert_eq!(waited.status(), 200);
        format!("{}/v1/devboxes/{id}", fake.base_url())
    }

    #[tokio::test]
    async fn missing_bearer_token_is_401() {
        let fake = FakeRunloop::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/v1/devboxes", fake.base_url()))
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
    }

    #[tokio::test]
    async fn execute_without_command_id_is_400() {
        let fake = FakeRunloop::start().await;
        let devbox = running(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{devbox}/execute"))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "command": "true" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn create_with_an_unknown_launch_parameter_is_400() {
        let fake = FakeRunloop::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/v1/devboxes", fake.base_url()))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "launch_parameters": { "keep_alive_seconds": 60 } }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn upload_file_as_json_is_400() {
        let fake = FakeRunloop::start().await;
        let devbox = running(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{devbox}/upload_file"))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "path": "/tmp/x", "file": "eA==" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }
}
