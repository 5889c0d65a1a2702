//! E2B against its fake: behaviour, faults, and the fake's strictness.
#![cfg(feature = "e2b")]

use std::time::{Duration, Instant};

use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, GrepRequest, Sandbox};
use backend_remote::RetryPolicy;
use backend_remote::e2b::{E2bConfig, E2bSandbox};
use remote_fakes::Fault;
use remote_fakes::e2b::FakeE2b;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(2),
        ..Default::default()
    }
}

fn config(fake: &FakeE2b) -> E2bConfig {
    E2bConfig::new(fake.api_key())
        .api_url(fake.api_url())
        .envd_url(fake.envd_url())
        .root_dir(fake.new_workdir())
        .retry(fast_retries())
}

async fn sandbox(fake: &FakeE2b) -> E2bSandbox {
    E2bSandbox::create(config(fake))
        .await
        .expect("create an E2B sandbox on the fake")
}

#[tokio::test]
async fn files_written_are_seen_by_commands_and_back() {
    let fake = FakeE2b::start().await;
    let sb = sandbox(&fake).await;
    sb.write_str("/dir/a.txt", "hello\n").await.expect("write");
    let out = sb
        .execute(ExecRequest::new("cat dir/a.txt; echo err >&2; exit 3"))
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "hello\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit_code(), Some(3));
    sb.execute(ExecRequest::new("printf 'x\\ny\\n' > made.txt"))
        .await
        .expect("execute");
    assert_eq!(
        sb.read_to_string("/made.txt").await.expect("read"),
        "x\ny\n"
    );
    let names: Vec<String> = sb
        .ls("/")
        .await
        .expect("ls")
        .into_iter()
        .map(|f| f.path.into_string())
        .collect();
    assert_eq!(names, ["/dir", "/made.txt"]);
    let found = sb.grep(&GrepRequest::new("y")).await.expect("grep");
    assert_eq!(found.matches.len(), 1);
    assert_eq!(
        sb.glob_paths("**/*.txt").await.expect("glob"),
        ["/dir/a.txt", "/made.txt"]
    );
    sb.close().await.expect("close");
    assert_eq!(fake.live_sandboxes(), 0);
}

#[tokio::test]
async fn a_sandbox_dropped_without_close_is_still_removed() {
    let fake = FakeE2b::start().await;
    drop(sandbox(&fake).await);
    for _ in 0..50 {
        if fake.live_sandboxes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the dropped sandbox was not killed");
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_promptly() {
    let fake = FakeE2b::start().await;
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
async fn rate_limited_create_is_retried_after_retry_after() {
    let fake = FakeE2b::start().await;
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
async fn server_error_on_create_is_a_retryable_unavailable_error_without_a_second_create() {
    let fake = FakeE2b::start().await;
    fake.faults().inject("create", Fault::Status(500), 1);
    let e = E2bSandbox::create(config(&fake))
        .await
        .expect_err("create fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_retryable());
    assert!(
        e.message().contains("injected failure 500"),
        "{}",
        e.message()
    );
    assert_eq!(
        fake.faults().hits("create"),
        1,
        "a create without idempotency key must not be repeated"
    );
    assert_eq!(fake.live_sandboxes(), 0);
}

#[tokio::test]
async fn dropped_connection_mid_command_is_unavailable_not_a_hang() {
    let fake = FakeE2b::start().await;
    let sb = sandbox(&fake).await;
    fake.faults().inject("process", Fault::DropConnection, 1);
    let began = Instant::now();
    let e = sb
        .execute(ExecRequest::new("sleep 20"))
        .await
        .expect_err("execute fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(
        fake.faults().hits("process"),
        1,
        "Process/Start must never be retried"
    );
    sb.close().await.expect("close");
}

#[tokio::test]
async fn wrong_api_key_names_the_env_var_and_hides_the_key() {
    let fake = FakeE2b::start().await;
    let bad = E2bConfig::new("e2b_wrong_secret_key")
        .api_url(fake.api_url())
        .envd_url(fake.envd_url());
    let e = E2bSandbox::create(bad).await.expect_err("401");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.message().contains("E2B_API_KEY"), "{}", e.message());
    assert!(!format!("{e:?} {e}").contains("wrong_secret"));
}

#[tokio::test]
async fn extending_the_lifetime_reaches_the_control_plane() {
    let fake = FakeE2b::start().await;
    let sb = sandbox(&fake).await;
    sb.set_lifetime(Duration::from_secs(600))
        .await
        .expect("set lifetime");
    assert_eq!(fake.faults().hits("timeout"), 1);
    sb.close().await.expect("close");
}

#[tokio::test]
async fn stdout_and_stderr_stream_apart_as_they_come() {
    use futures::StreamExt;
    let fake = FakeE2b::start().await;
    let sb = sandbox(&fake).await;
    let mut stream = sb
        .execute_stream(ExecRequest::new(
            "echo one; echo two >&2; sleep 0.3; echo three",
        ))
        .await
        .expect("stream");
    let first = stream.next().await.expect("an event").expect("ok");
    assert_eq!(first, backend_core::ExecEvent::Stdout(b"one\n".to_vec()));
    let mut rest = Vec::new();
    while let Some(event) = stream.next().await {
        rest.push(event.expect("ok"));
    }
    assert!(rest.contains(&backend_core::ExecEvent::Stderr(b"two\n".to_vec())));
    assert!(
        matches!(rest.last(), Some(backend_core::ExecEvent::Exit(s)) if s.exit_code == Some(0))
    );
    sb.close().await.expect("close");
}

#[test]
fn config_debug_output_never_shows_the_key() {
    let shown = format!("{:?}", E2bConfig::new("e2b_top_secret_value"));
    assert!(!shown.contains("top_secret"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

mod strict_fake {
    use super::*;
    use serde_json::json;

    async fn created(fake: &FakeE2b) -> (String, String) {
        let response = reqwest::Client::new()
            .post(format!("{}/v2/sandboxes", fake.api_url()))
            .header("X-API-Key", fake.api_key())
            .json(&json!({ "templateID": "base", "timeout": 60 }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.expect("json");
        (
            body["sandboxID"].as_str().expect("id").to_owned(),
            body["envdAccessToken"].as_str().expect("token").to_owned(),
        )
    }

    #[tokio::test]
    async fn create_without_the_api_key_header_is_401_with_the_error_shape() {
        let fake = FakeE2b::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/v2/sandboxes", fake.api_url()))
            .header("Authorization", format!("Bearer {}", fake.api_key()))
            .json(&json!({ "templateID": "base" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["code"], 401);
        assert!(body["message"].is_string());
    }

    #[tokio::test]
    async fn create_with_a_misspelt_field_is_400() {
        let fake = FakeE2b::start().await;
        let response = reqwest::Client::new()
            .post(format!("{}/v2/sandboxes", fake.api_url()))
            .header("X-API-Key", fake.api_key())
            .json(&json!({ "templateId": "base" }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
    }

    #[tokio::test]
    async fn connect_unary_call_with_the_wrong_content_type_is_415() {
        let fake = FakeE2b::start().await;
        let (_, token) = created(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{}/filesystem.Filesystem/Stat", fake.envd_url()))
            .header("X-Access-Token", token)
            .header("Content-Type", "application/connect+json")
            .body(json!({ "path": "/" }).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 415);
    }

    #[tokio::test]
    async fn process_start_without_an_envelope_ends_the_stream_with_invalid_argument() {
        let fake = FakeE2b::start().await;
        let (_, token) = created(&fake).await;
        let response = reqwest::Client::new()
            .post(format!("{}/process.Process/Start", fake.envd_url()))
            .header("X-Access-Token", token)
            .header("Content-Type", "application/connect+json")
            .body(json!({ "process": { "cmd": "/bin/sh", "args": ["-c", "true"] } }).to_string())
            .send()
            .await
            .expect("request");
        let bytes = response.bytes().await.expect("body");
        assert_eq!(bytes[0], 0x02, "an end-of-stream frame");
        assert!(String::from_utf8_lossy(&bytes[5..]).contains("invalid_argument"));
    }

    #[tokio::test]
    async fn envd_without_the_access_token_is_401() {
        let fake = FakeE2b::start().await;
        let _ = created(&fake).await;
        let response = reqwest::Client::new()
            .get(format!("{}/files", fake.envd_url()))
            .query(&[("path", fake.new_workdir())])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
    }
}
