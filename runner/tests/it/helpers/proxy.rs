//! A loopback TCP proxy the tests control, between Sluice and a server:
//! it forwards, adds latency, cuts every open connection, or hangs (holds
//! the bytes while the connections stay open, as a network that stopped
//! delivering would).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward,
    /// Each chunk waits this long before it is passed on.
    Delay(Duration),
    /// Nothing is read or passed on; connections stay open.
    Hang,
}

pub struct FaultProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: &str) -> FaultProxy {
        FaultProxy::start_on("127.0.0.1:0", upstream).await
    }

    /// A proxy on `listen` in front of `upstream`.
    pub async fn start_on(listen: &str, upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind(listen).await.unwrap_or_else(|e| panic!("proxy: bind {listen}: {e}"));
        let addr = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(Mode::Forward);
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (mode, connections, upstream) = (mode.clone(), connections.clone(), upstream.to_string());
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    let (up, down) = (mode.subscribe(), mode.subscribe());
                    let task = tokio::spawn(async move {
                        tokio::select! {
                            () = pump(client_read, server_write, up) => {}
                            () = pump(server_read, client_write, down) => {}
                        }
                    });
                    let mut open = connections.lock().expect("proxy connections");
                    open.retain(|t| !t.is_finished());
                    open.push(task);
                }
            })
        };
        FaultProxy { addr, mode, connections, accept }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every open connection at once; new ones are taken as before.
    pub fn cut(&self) -> usize {
        let open: Vec<JoinHandle<()>> = std::mem::take(&mut *self.connections.lock().expect("proxy connections"));
        let live = open.iter().filter(|t| !t.is_finished()).count();
        open.iter().for_each(JoinHandle::abort);
        live
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Moves bytes one way until either side closes, obeying the mode.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if mode.wait_for(|m| *m != Mode::Hang).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let current = *mode.borrow();
        if let Mode::Delay(delay) = current {
            tokio::time::sleep(delay).await;
        }
        // Bytes read just before a hang are held until it ends.
        if mode.wait_for(|m| *m != Mode::Hang).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
