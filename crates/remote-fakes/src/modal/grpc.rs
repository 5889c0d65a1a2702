//! Hand-written gRPC service plumbing: a method path dispatches to a closure
//! run through `tonic::server::Grpc` with a prost codec (no codegen).

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http;

pub(crate) type HttpRequest = http::Request<Body>;
pub(crate) type HttpResponse = http::Response<Body>;
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// One call's handler as a tower service.
struct Handler<F, Req, Resp>(Option<F>, PhantomData<fn(Req) -> Resp>);

impl<F, Req, Resp, Fut> Service<tonic::Request<Req>> for Handler<F, Req, Resp>
where
    F: FnOnce(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>> + Send + 'static,
{
    type Response = tonic::Response<Resp>;
    type Error = Status;
    type Future = BoxFuture<Result<tonic::Response<Resp>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        match self.0.take() {
            Some(handler) => Box::pin(handler(request)),
            None => Box::pin(async { Err(Status::internal("handler called twice")) }),
        }
    }
}

/// Decodes a unary request, runs `handler`, encodes its answer.
pub(crate) async fn unary<Req, Resp, F, Fut>(request: HttpRequest, handler: F) -> HttpResponse
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnOnce(tonic::Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<tonic::Response<Resp>, Status>> + Send + 'static,
{
    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
    grpc.unary(Handler(Some(handler), PhantomData), request)
        .await
}

/// Decodes a request, runs `handler`, streams its answers.
pub(crate) async fn server_streaming<Req, Resp, F>(request: HttpRequest, handler: F) -> HttpResponse
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: FnOnce(tonic::Request<Req>) -> Result<tonic::Response<BoxStream<Resp>>, Status>
        + Send
        + 'static,
{
    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
    let handler = StreamHandler(Some(handler), PhantomData);
    grpc.server_streaming(handler, request).await
}

/// A streaming call's handler as a tower service.
struct StreamHandler<F, Req, Resp>(Option<F>, PhantomData<fn(Req) -> Resp>);

impl<F, Req, Resp> Service<tonic::Request<Req>> for StreamHandler<F, Req, Resp>
where
    F: FnOnce(tonic::Request<Req>) -> Result<tonic::Response<BoxStream<Resp>>, Status>,
    Resp: Send + 'static,
{
    type Response = tonic::Response<BoxStream<Resp>>;
    type Error = Status;
    type Future = std::future::Ready<Result<tonic::Response<BoxStream<Resp>>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        std::future::ready(match self.0.take() {
            Some(handler) => handler(request),
            None => Err(Status::internal("handler called twice")),
        })
    }
}

/// The answer to a method the fake does not serve.
pub(crate) fn unimplemented(path: &str) -> HttpResponse {
    Status::unimplemented(format!("the Modal fake does not implement {path}")).into_http()
}

/// A whole service: the calls under one path prefix.
pub(crate) trait Dispatch: Clone + Send + Sync + 'static {
    /// The service's path prefix, `/package.Service/`.
    const PREFIX: &'static str;

    /// The answer to `method` (the path after the prefix); `None` for a
    /// method the fake does not serve.
    fn dispatch(&self, method: &str, request: HttpRequest) -> Option<BoxFuture<HttpResponse>>;
}

/// Adapts a [`Dispatch`] to the server.
#[derive(Clone)]
struct Svc<D>(D);

impl<D: Dispatch> Service<HttpRequest> for Svc<D> {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<Result<HttpResponse, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let path = request.uri().path().to_owned();
        let answer = match path.strip_prefix(D::PREFIX) {
            Some(method) => self.0.dispatch(method, request),
            None => None,
        };
        Box::pin(async move {
            Ok(match answer {
                Some(answer) => answer.await,
                None => unimplemented(&path),
            })
        })
    }
}

/// Serves `service` on `listener` until the task is aborted.
pub(crate) fn serve<D: Dispatch>(
    listener: tokio::net::TcpListener,
    service: D,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        if let Err(e) = tonic::transport::Server::builder()
            .serve_with_incoming(Svc(service), incoming)
            .await
        {
            eprintln!("the Modal fake's server stopped: {e}");
        }
    })
}

/// A metadata value as text.
pub(crate) fn meta<'a, T>(request: &'a tonic::Request<T>, name: &str) -> Option<&'a str> {
    request.metadata().get(name).and_then(|v| v.to_str().ok())
}
