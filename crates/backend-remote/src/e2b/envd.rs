//! The in-sandbox daemon: files over `/files`, directories and processes
//! over Connect RPC.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{Error, ErrorKind, Result};
use base64::Engine;
use bytes::BytesMut;
use futures::StreamExt;
use serde_json::{Value, json};

use super::connect::{END_STREAM, end_stream_error, envelope, take_frame};
use crate::http::client::{HttpClient, Repeat};
use crate::http::timestamp::parse_rfc3339;
use crate::sandbox::remote::{Entry, RawEvent, RawStream, Remote, Running, killer};
use crate::secret::ApiKey;

/// The control-plane side: the API base URL, key and sandbox id.
#[derive(Debug)]
pub(crate) struct Control {
    pub(crate) client: HttpClient,
    pub(crate) api_url: String,
    pub(crate) api_key: ApiKey,
    pub(crate) sandbox_id: String,
}

impl Control {
    /// `DELETE /sandboxes/{id}`; 404 means already gone.
    async fn kill(&self) -> Result<()> {
        let url = format!("{}/sandboxes/{}", self.api_url, self.sandbox_id);
        match self
            .client
            .send("kill sandbox", Repeat::Idempotent, |http| {
                http.delete(&url).header("X-API-Key", self.api_key.expose())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /sandboxes/{id}/timeout`: the sandbox expires `lifetime` from
    /// now.
    async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        let url = format!("{}/sandboxes/{}/timeout", self.api_url, self.sandbox_id);
        let body = json!({ "timeout": lifetime.as_secs() });
        self.client
            .send("set sandbox timeout", Repeat::Idempotent, |http| {
                http.post(&url)
                    .header("X-API-Key", self.api_key.expose())
                    .json(&body)
            })
            .await
            .map(drop)
    }
}

/// One sandbox's envd.
#[derive(Debug)]
pub(crate) struct Envd {
    pub(crate) client: HttpClient,
    pub(crate) base: String,
    pub(crate) token: Option<ApiKey>,
    pub(crate) control: Arc<Control>,
}

impl Envd {
    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.header("X-Access-Token", token.expose()),
            None => request,
        }
    }

    /// A unary Connect call with a JSON body.
    async fn unary(
        &self,
        call: &'static str,
        path: &str,
        body: Value,
        repeat: Repeat,
    ) -> Result<Value> {
        let url = format!("{}/{path}", self.base);
        let body = body.to_string();
        let response = self
            .client
            .send(call, repeat, |http| {
                self.auth(http.post(&url))
                    .header("Content-Type", "application/json")
                    .header("Connect-Protocol-Version", "1")
                    .body(body.clone())
            })
            .await?;
        self.client.read_json(call, response).await
    }
}

/// An `EntryInfo` as Connect JSON writes it (int64 as a string, enums by name).
fn entry(value: &Value) -> Entry {
    let size = match value.get("size") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    };
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    Entry {
        name: value
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        is_dir: kind == "FILE_TYPE_DIRECTORY",
        is_symlink: kind == "FILE_TYPE_SYMLINK",
        size,
        modified: value
            .get("modifiedTime")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339),
    }
}

/// The stream of a started process: frames in, [`RawEvent`]s out.
struct Frames {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: BytesMut,
    done: bool,
}

impl Frames {
    /// The next meaningful event (`None` for the start and keepalive events
    /// is skipped), `Ok(None)` at a clean end of stream.
    async fn next_event(&mut self) -> Result<Option<ProcessEvent>> {
        loop {
            if let Some((flag, payload)) = take_frame(&mut self.buf) {
                if flag & END_STREAM != 0 {
                    self.done = true;
                    return match end_stream_error(&payload) {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                if let Some(event) = ProcessEvent::parse(&payload)? {
                    return Ok(Some(event));
                }
                continue;
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    self.done = true;
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!("E2B: the connection to the sandbox dropped while a command was running: {e}"),
                    )
                    .with_context("provider", "E2B")
                    .with_retryable(true));
                }
                None => {
                    self.done = true;
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        "E2B: the command's stream ended before its end event",
                    )
                    .with_context("provider", "E2B")
                    .with_retryable(true));
                }
            }
        }
    }
}

enum ProcessEvent {
    Start(u32),
    Output(RawEvent),
}

impl ProcessEvent {
    fn parse(payload: &[u8]) -> Result<Option<ProcessEvent>> {
        let value: Value = serde_json::from_slice(payload)
            .map_err(|e| Error::internal(format!("E2B sent a frame that is not JSON: {e}")))?;
        let Some(event) = value.get("event") else {
            return Ok(None);
        };
        let b64 = |v: &Value| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or(""))
                .map_err(|e| Error::internal(format!("E2B sent output that is not base64: {e}")))
        };
        if let Some(start) = event.get("start") {
            let pid = start.get("pid").and_then(Value::as_u64).unwrap_or(0);
            return Ok(Some(ProcessEvent::Start(pid as u32)));
        }
        if let Some(data) = event.get("data") {
            if let Some(out) = data.get("stdout") {
                return Ok(Some(ProcessEvent::Output(RawEvent::Stdout(b64(out)?))));
            }
            if let Some(err) = data.get("stderr") {
                return Ok(Some(ProcessEvent::Output(RawEvent::Stderr(b64(err)?))));
            }
            return Ok(None);
        }
        if let Some(end) = event.get("end") {
            // proto3 JSON leaves out defaults: a missing exitCode is 0, a
            // missing `exited` is false.
            let exited = end.get("exited").and_then(Value::as_bool).unwrap_or(false);
            let code = end.get("exitCode").and_then(Value::as_i64).unwrap_or(0) as i32;
            let status = end.get("status").and_then(Value::as_str).unwrap_or("");
            let event = if exited {
                RawEvent::Exit {
                    code: Some(code),
                    signal: None,
                }
            } else {
                RawEvent::Exit {
                    code: None,
                    signal: Some(signal_number(status)),
                }
            };
            return Ok(Some(ProcessEvent::Output(event)));
        }
        Ok(None)
    }
}

/// The signal in a Go process status such as `signal: killed`.
fn signal_number(status: &str) -> i32 {
    match status.trim_start_matches("signal: ") {
        "hangup" => 1,
        "interrupt" => 2,
        "terminated" => 15,
        "aborted" => 6,
        "broken pipe" => 13,
        _ => 9,
    }
}

#[async_trait]
impl Remote for Envd {
    fn provider(&self) -> &'static str {
        "E2B"
    }

    fn sandbox_id(&self) -> &str {
        &self.control.sandbox_id
    }

    fn streams_output(&self) -> bool {
        true
    }

    async fn start(&self, line: String, timeout: Duration) -> Result<Running> {
        let url = format!("{}/process.Process/Start", self.base);
        let message = json!({
            "process": { "cmd": "/bin/sh", "args": ["-c", line], "envs": {} },
            "stdin": false,
        });
        let body = envelope(message.to_string().as_bytes());
        let deadline_ms = (timeout + Duration::from_secs(1)).as_millis().to_string();
        // Never retried: a lost response may mean the command already ran.
        let response = self
            .client
            .send("start process", Repeat::Never, |http| {
                self.auth(http.post(&url))
                    .header("Content-Type", "application/connect+json")
                    .header("Connect-Timeout-Ms", &deadline_ms)
                    .timeout(timeout + Duration::from_secs(30))
                    .body(body.clone())
            })
            .await?;
        let mut frames = Frames {
            body: response.bytes_stream().boxed(),
            buf: BytesMut::new(),
            done: false,
        };
        let pid = match frames.next_event().await? {
            Some(ProcessEvent::Start(pid)) => pid,
            _ => {
                return Err(Error::internal(
                    "E2B did not report the process id at the start of the command's stream",
                ));
            }
        };
        let events: RawStream =
            Box::pin(futures::stream::unfold(frames, |mut frames| async move {
                if frames.done {
                    return None;
                }
                match frames.next_event().await {
                    Ok(Some(ProcessEvent::Output(event))) => Some((Ok(event), frames)),
                    Ok(Some(ProcessEvent::Start(_))) => Some((
                        Err(Error::internal("E2B sent a second start event")),
                        frames,
                    )),
                    Ok(None) => None,
                    Err(e) => Some((Err(e), frames)),
                }
            }));
        let client = self.client.clone();
        let signal_url = format!("{}/process.Process/SendSignal", self.base);
        let token = self.token.clone();
        let kill = killer(move || async move {
            let body = json!({ "process": { "pid": pid }, "signal": "SIGNAL_SIGKILL" }).to_string();
            let outcome = client
                .send("kill process", Repeat::Idempotent, |http| {
                    let request = http
                        .post(&signal_url)
                        .header("Content-Type", "application/json")
                        .header("Connect-Protocol-Version", "1")
                        .body(body.clone());
                    match &token {
                        Some(t) => request.header("X-Access-Token", t.expose()),
                        None => request,
                    }
                })
                .await;
            if let Err(e) = outcome {
                tracing::warn!(error = %e, pid, "could not kill an E2B process");
            }
        });
        Ok(Running { events, kill })
    }

    async fn read_file(&self, abs: &str) -> Result<Vec<u8>> {
        let url = format!("{}/files", self.base);
        self.client
            .download_file(|http| self.auth(http.get(&url)).query(&[("path", abs)]))
            .await
    }

    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()> {
        let url = format!("{}/files", self.base);
        self.client
            .upload_file(abs, content, None, "file", |http| {
                self.auth(http.post(&url)).query(&[("path", abs)])
            })
            .await
    }

    async fn stat(&self, abs: &str) -> Result<Option<Entry>> {
        match self
            .unary(
                "stat",
                "filesystem.Filesystem/Stat",
                json!({ "path": abs }),
                Repeat::Idempotent,
            )
            .await
        {
            Ok(value) => Ok(value.get("entry").map(entry)),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_dir(&self, abs: &str) -> Result<Vec<Entry>> {
        let value = self
            .unary(
                "list directory",
                "filesystem.Filesystem/ListDir",
                json!({ "path": abs, "depth": 1 }),
                Repeat::Idempotent,
            )
            .await?;
        Ok(value
            .get("entries")
            .and_then(Value::as_array)
            .map(|entries| entries.iter().map(entry).collect())
            .unwrap_or_default())
    }

    async fn make_dir(&self, abs: &str) -> Result<()> {
        match self
            .unary(
                "make directory",
                "filesystem.Filesystem/MakeDir",
                json!({ "path": abs }),
                Repeat::Throttled,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn remove(&self, abs: &str) -> Result<()> {
        match self
            .unary(
                "remove",
                "filesystem.Filesystem/Remove",
                json!({ "path": abs }),
                Repeat::Idempotent,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn destroy(&self) -> Result<()> {
        self.control.kill().await
    }

    async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        self.control.set_lifetime(lifetime).await
    }
}
