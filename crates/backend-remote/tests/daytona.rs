//! Daytona against its fake: behaviour, faults, and the fake's strictness.
#![cfg(feature = "daytona")]

use std::time::{Duration, Instant};

use backend_core::{BackendExt, ErrorKind, ExecRequest, Sandbox};
use backend_remote::RetryPolicy;
use backend_remote::daytona::{DaytonaConfig, DaytonaSandbox};
use remote_fakes::Fault;
use remote_fakes::daytona::{BROKEN_SNAPSHOT, FakeDaytona};

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        ..Default::default()
    }
}

fn config(fake: &FakeDaytona) -> DaytonaConfig {
    DaytonaConfig::new(fake.api_key())
        .api_url(fake.api_url())
        .root_dir(fake.new_workdir())
        .poll_interval(Duration::from_millis(10))
        .retry(fast_retries())
}

async fn sandbox(fake: &FakeDaytona) -> DaytonaSandbox {
    DaytonaSandbox::create(config(fake))
        .await
        .expect("create a Daytona sandbox on the fake")
}

#[tokio::test]
async fn commands_keep_stdout_and_stderr_apart_and_see_written_files() {
    let fake = FakeDaytona::start().await;
    let sb = sandbox(&fake).await;
    sb.write_str("/in.txt", "data\n").await.expect("write");
    let out = sb
        .execute(ExecRequest::new("cat in.txt; echo oops >&2; exit 4"))
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "data\n");
    assert_eq!(out.stderr_text(), "oops\n");
    assert_eq!(out.exit_code(), Some(4));
    sb.close().await.expect("close");
    assert_eq!(fake.live_sandboxes(), 0);
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_by_deleting_its_session() {
    let fake = FakeDaytona::start().await;
    let sb = sandbox(&fake).await;
    let began = Instant::now();
    let out = sb
        .execute(ExecRequest::new("sleep 30").timeout(Duration::from_millis(500)))
        .await
        .expect("execute");
    assert!(out.timed_out());
    assert!(
        began.elapsed() < Duration::from_millis(1500),
        "{:?}",
        began.elapsed()
    );
    sb.close().await.expect("close");
}

#[tokio::test]
async fn a_sandbox_that_ends_in_error_fails_fast_and_is_deleted() {
    let fake = FakeDaytona::start().await;
    let e = DaytonaSandbox::create(config(&fake).snapshot(BROKEN_SNAPSHOT))
        .await
        .expect_err("error state");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.message().contains("error"), "{}", e.message());
    assert_eq!(fake.live_sandboxes(), 0);
}

#[tokio::test]
async fn rate_limited_create_is_retried_after_retry_after() {
    let fake = FakeDaytona::start().await;
    fake.faults().inject(
        "create",
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        1,
    );
    let began = Instant::now();
    let sb = sandbox(&fake).await;
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(fake.faults().hits("create"), 2);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn server_error_on_create_is_unavailable_and_not_repeated() {
    let fake = FakeDaytona::start().await;
    fake.faults().inject("create", Fault::Status(503), 1);
    let e = DaytonaSandbox::create(config(&fake))
        .await
        .expect_err("create fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_retryable());
    assert!(
        e.message().contains("injected failure 503"),
        "{}",
        e.message()
    );
    assert_eq!(fake.faults().hits("create"), 1);
}

#[tokio::test]
async fn dropped_connection_while_waiting_for_a_command_is_unavailable_not_a_hang() {
    let fake = FakeDaytona::start().await;
    let sb = sandbox(&fake).await;
    fake.faults().inject("command", Fault::DropConnection, 100);
    let began = Instant::now();
    let e = sb
        .execute(ExecRequest::new("sleep 20"))
        .await
        .expect_err("execute fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(
        fake.faults().hits("exec"),
        1,
        "execution must never be retried"
    );
    sb.close().await.expect("close");
}

#[tokio::test]
async fn wrong_api_key_names_the_env_var_and_hides_the_key() {
    let fake = FakeDaytona::start().await;
    let bad = DaytonaConfig::new("dtn_wrong_secret_key").api_url(fake.api_url());
    let e = DaytonaSandbox::create(bad).await.expect_err("401");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.message().contains("DAYTONA_API_KEY"), "{}", e.message());
    assert!(!format!("{e:?} {e}").contains("wrong_secret"));
}

#[test]
fn config_debug_output_never_shows_the_key() {
    let shown = format!("{:?}", DaytonaConfig::new("dtn_top_secret_value"));
    assert!(!shown.contains("top_secret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

mod strict_fake {
    use super::*;
    use serde_json::json;

    async fn started(fake: &FakeDaytona) -> String {
        let http = reqwest::Client::new();
        let auth = format!("Bearer {}", fake.api_key());
        let created: serde_json::Value = http
            .post(format!("{}/sandbox", fake.api_url()))
            .header("Authorization", &auth)
            .json(&json!({ "labels": {} }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let got: serde_json::Value = http
            .get(format!("{}/sandbox/{id}", fake.api_url()))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(got["state"], "started");
        format!(
            "{}/{id}",
            got["toolboxProxyUrl"].as_str().expect("proxy url")
        )
    }

    #[tokio::test]
    async fn missing_bearer_token_is_401_with_the_error_shape() {
        let fake = FakeDaytona::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/sandbox", fake.api_url()))
            .header("X-API-Key", fake.api_key())
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["statusCode"], 401);
        assert!(body["message"].is_string());
    }

    #[tokio::test]
    async fn create_with_a_wrong_field_type_is_400() {
        let fake = FakeDaytona::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/sandbox", fake.api_url()))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "cpu": "two" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn session_with_a_misspelt_field_is_400() {
        let fake = FakeDaytona::start().await;
        let toolbox = started(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{toolbox}/process/session"))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "sessionID": "s1" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn bulk_upload_needs_indexed_part_names() {
        let fake = FakeDaytona::start().await;
        let toolbox = started(&fake).await;
        let form = reqwest::multipart::Form::new()
            .text("path", format!("{}/a.txt", fake.new_workdir()))
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"),
            );
        let response = reqwest::Client::new()
            .post(format!("{toolbox}/files/bulk-upload"))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .multipart(form)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn folder_without_mode_is_400() {
        let fake = FakeDaytona::start().await;
        let toolbox = started(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{toolbox}/files/folder"))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .query(&[("path", format!("{}/d", fake.new_workdir()))])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }
}
