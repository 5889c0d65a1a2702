//! `Traced`: one span per operation, with its fields.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use backend_core::{Backend, BackendExt, ExecRequest, FileUpload, GlobRequest, Sandbox};
use backend_layers::{LayerExt, SPAN_NAME};
use backend_state::StateBackend;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// The fields of one closed span.
type Fields = BTreeMap<String, String>;

/// Collects every closed span's fields.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(String, Fields)>>>);

impl Spans {
    /// The layer's spans (inner backends may open their own).
    fn closed(&self) -> Vec<(String, Fields)> {
        let spans = self.0.lock().expect("the span list");
        spans
            .iter()
            .filter(|(name, _)| name == SPAN_NAME)
            .cloned()
            .collect()
    }
}

struct FieldVisitor<'a>(&'a mut Fields);

impl Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut FieldVisitor(fields));
        }
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions()
                .get::<Fields>()
                .cloned()
                .unwrap_or_default();
            self.0
                .lock()
                .expect("the span list")
                .push((span.name().to_owned(), fields));
        }
    }
}

fn capture() -> (Spans, tracing::subscriber::DefaultGuard) {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    (spans, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn each_operation_gets_one_span_with_backend_operation_path_and_elapsed() {
    let (spans, _guard) = capture();
    let layered: Arc<dyn Backend> = Arc::new(StateBackend::new()).traced("memories");
    layered.write_str("/a.txt", "a\n").await.expect("write");
    layered.read("/a.txt", 0, 10).await.expect("read");
    layered
        .glob(&GlobRequest::new("*.txt"))
        .await
        .expect("glob");
    let closed = spans.closed();
    assert_eq!(closed.len(), 3, "{closed:?}");
    let ops: Vec<&str> = closed
        .iter()
        .map(|(_, f)| f["operation"].as_str())
        .collect();
    assert_eq!(ops, ["write", "read", "glob"]);
    for (name, fields) in &closed {
        assert_eq!(name, SPAN_NAME);
        assert_eq!(fields["backend"], "memories");
        assert!(fields.contains_key("elapsed_ms"), "{fields:?}");
        assert!(!fields.contains_key("error"), "{fields:?}");
    }
    assert_eq!(closed[0].1["path"], "/a.txt");
    assert_eq!(closed[2].1["path"], "/");
}

#[tokio::test]
async fn a_failure_records_its_error_code() {
    let (spans, _guard) = capture();
    let layered: Arc<dyn Backend> = Arc::new(StateBackend::new()).traced("state");
    let err = layered.read_bytes("/missing").await.expect_err("missing");
    assert_eq!(err.code(), "file_not_found");
    let closed = spans.closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].1["error"], "file_not_found");
    assert_eq!(closed[0].1["operation"], "read_bytes");
}

#[tokio::test]
async fn a_batch_records_its_size_and_failures() {
    let (spans, _guard) = capture();
    let layered: Arc<dyn Backend> = Arc::new(StateBackend::new()).traced("state");
    layered
        .upload_files(vec![
            FileUpload::new("/ok", b"x".to_vec()),
            FileUpload::new("/../bad", b"x".to_vec()),
        ])
        .await;
    let closed = spans.closed();
    assert_eq!(closed.len(), 1);
    let fields = &closed[0].1;
    assert_eq!(fields["operation"], "upload");
    assert_eq!(fields["files"], "2");
    assert_eq!(fields["failed"], "1");
    assert_eq!(fields["error"], "invalid_path");
}

#[tokio::test]
async fn a_traced_sandbox_still_runs_commands_in_a_span() {
    let (spans, _guard) = capture();
    let sandbox = super::support::local_sandbox();
    let layered: Arc<dyn Sandbox> = sandbox.clone().traced("local");
    let output = layered
        .execute(ExecRequest::new("echo hi"))
        .await
        .expect("execute");
    assert_eq!(output.stdout, b"hi\n");
    assert_eq!(layered.id(), sandbox.id());
    let closed = spans.closed();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].1["operation"], "execute");
    assert_eq!(closed[0].1["backend"], "local");
}
