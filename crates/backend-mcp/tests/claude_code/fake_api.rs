//! A fake Anthropic Messages API on loopback for driving the real Claude Code
//! CLI: it answers `POST /v1/messages` (streamed as server-sent events when
//! the request asks for it, plain JSON otherwise) from a script of tool
//! calls, records the `tool_result` blocks the CLI sends back, and answers
//! `count_tokens`; any other path gets a 404 and is recorded.
//!
//! The script is stateless per request: the number of scripted tool results
//! already in the conversation says which step comes next, so retries and
//! side requests (titles, summaries) do not shift it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

/// Prefix of the ids of scripted `tool_use` blocks.
const ID_PREFIX: &str = "toolu_script_";

/// One scripted tool call: the tool's name as the model sees it
/// (`mcp__SERVER__TOOL`) and its input.
#[derive(Debug, Clone)]
pub struct Step {
    pub tool: String,
    pub input: Value,
}

/// A tool result the CLI sent back for a scripted call.
#[derive(Debug, Clone)]
pub struct ToolResult {
    /// Which step it answers.
    pub step: usize,
    /// The text blocks joined (or the string content).
    pub text: String,
    /// The raw `content` as sent.
    pub raw: Value,
    /// The block's `is_error`.
    pub is_error: bool,
}

#[derive(Debug, Default)]
struct Recorded {
    results: Vec<ToolResult>,
    other_paths: Vec<String>,
    message_requests: usize,
}

/// The running fake; stops when dropped with the test's runtime.
pub struct FakeApi {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
}

impl FakeApi {
    /// Starts serving `script` on an ephemeral loopback port.
    pub async fn start(script: Vec<Step>) -> FakeApi {
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let script = Arc::new(script);
        let state = (script, recorded.clone());
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let (script, recorded) = state.clone();
            async move { answer(&script, &recorded, &method, &uri, &body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake API");
        let addr = listener.local_addr().expect("the fake API's address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the fake API");
        });
        FakeApi { addr, recorded }
    }

    /// The tool results received, one per step, in step order (the last one
    /// received for a step wins).
    pub fn results(&self) -> Vec<ToolResult> {
        let recorded = self.recorded.lock().expect("the fake API's record");
        let mut by_step: Vec<ToolResult> = Vec::new();
        for result in &recorded.results {
            match by_step.iter_mut().find(|r| r.step == result.step) {
                Some(slot) => *slot = result.clone(),
                None => by_step.push(result.clone()),
            }
        }
        by_step.sort_by_key(|r| r.step);
        by_step
    }

    /// A summary of the traffic, for failure messages.
    pub fn describe(&self) -> String {
        let recorded = self.recorded.lock().expect("the fake API's record");
        format!(
            "{} /v1/messages requests, other paths: {:?}",
            recorded.message_requests, recorded.other_paths
        )
    }
}

fn answer(
    script: &[Step],
    recorded: &Mutex<Recorded>,
    method: &Method,
    uri: &Uri,
    body: &[u8],
) -> Response {
    let path = uri.path();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if method == Method::POST && path == "/v1/messages/count_tokens" {
        return json_response(StatusCode::OK, &json!({"input_tokens": 10}));
    }
    if method != Method::POST || path != "/v1/messages" {
        recorded
            .lock()
            .expect("the fake API's record")
            .other_paths
            .push(format!("{method} {path}"));
        let error =
            json!({"type": "error", "error": {"type": "not_found_error", "message": "not here"}});
        return json_response(StatusCode::NOT_FOUND, &error);
    }
    let results = scripted_results(&request);
    let offers_script = script
        .first()
        .is_some_and(|step| offers(&request, &step.tool));
    let done = {
        let mut recorded = recorded.lock().expect("the fake API's record");
        recorded.message_requests += 1;
        let done = results.len();
        recorded.results.extend(results);
        done
    };
    let content = match script.get(done) {
        Some(step) if offers_script => json!([{
            "type": "tool_use",
            "id": format!("{ID_PREFIX}{done}"),
            "name": step.tool,
            "input": step.input,
        }]),
        _ => json!([{"type": "text", "text": "Done."}]),
    };
    let stop_reason = if content[0]["type"] == "tool_use" {
        "tool_use"
    } else {
        "end_turn"
    };
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-fake")
        .to_owned();
    if request["stream"].as_bool() == Some(true) {
        sse_response(&model, &content, stop_reason)
    } else {
        let message = json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 10},
        });
        json_response(StatusCode::OK, &message)
    }
}

/// Whether the request lists a tool called `name`.
fn offers(request: &Value, name: &str) -> bool {
    request["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == name))
}

/// Every `tool_result` block answering a scripted call, in the conversation.
fn scripted_results(request: &Value) -> Vec<ToolResult> {
    let mut found = Vec::new();
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    for message in messages.iter().filter(|m| m["role"] == "user") {
        let Some(blocks) = message["content"].as_array() else {
            continue;
        };
        for block in blocks.iter().filter(|b| b["type"] == "tool_result") {
            let Some(step) = block["tool_use_id"]
                .as_str()
                .and_then(|id| id.strip_prefix(ID_PREFIX))
                .and_then(|n| n.parse().ok())
            else {
                continue;
            };
            let raw = block["content"].clone();
            let text = match &raw {
                Value::String(text) => text.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(""),
                _ => String::new(),
            };
            found.push(ToolResult {
                step,
                text,
                raw,
                is_error: block["is_error"].as_bool().unwrap_or(false),
            });
        }
    }
    found
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("request-id", "req_fake")
        .body(Body::from(body.to_string()))
        .expect("a response")
}

/// The Messages streaming events for one message with `content`.
fn sse_response(model: &str, content: &Value, stop_reason: &str) -> Response {
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        }}),
    )];
    for (index, block) in content.as_array().into_iter().flatten().enumerate() {
        let (start, delta) = if block["type"] == "tool_use" {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        } else {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 10}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let body: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("request-id", "req_fake")
        .body(Body::from(body))
        .expect("a response")
}
