//! A TCP relay in front of the command router that a test can cut, so the
//! client sees a connection that really drops mid-stream.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::lock;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The relay's switch and its open connections.
pub(crate) struct Relay {
    refusing: AtomicBool,
    open: Mutex<Vec<AbortHandle>>,
}

impl Relay {
    /// Listens on a random port and relays to `upstream`.
    pub(crate) async fn start(
        upstream: SocketAddr,
    ) -> (Arc<Relay>, SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("the Modal fake's relay could not bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the Modal fake's relay has no address: {e}"));
        let relay = Arc::new(Relay {
            refusing: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let me = relay.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if me.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let conn = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let mut client = client;
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut open = lock(&me.open);
                open.retain(|h| !h.is_finished());
                open.push(conn.abort_handle());
            }
        });
        (relay, addr, task)
    }

    /// Drops every open connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        for conn in lock(&self.open).drain(..) {
            conn.abort();
        }
    }

    /// Accepts connections again.
    pub(crate) fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}
