//! A fault-injecting HTTP/1.1 proxy on loopback: a stable address in front of a receiver that
//! may be stopped and restarted on another port, and that can drop chosen answers.
//!
//! Each client connection carries one request. The proxy reads it whole, forwards it with
//! `Connection: close`, reads the whole answer, and then either passes the answer on or closes
//! the client's connection without a byte: the receiver has handled the delivery, the sender
//! never learns it (the network dropped the 200). With no receiver behind it, the proxy closes
//! every connection at once, as a dead host would look to a sender.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type DropRule = Box<dyn FnMut(&[u8]) -> bool + Send>;

struct Control {
    backend: Mutex<Option<SocketAddr>>,
    drop_answer: Mutex<DropRule>,
    dropped: AtomicUsize,
    forwarded: AtomicUsize,
    refused: AtomicUsize,
}

/// The proxy; stops when dropped.
pub struct Proxy {
    /// Where senders connect.
    pub addr: SocketAddr,
    control: Arc<Control>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("addr", &self.addr).finish()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy on `127.0.0.1:0` with no receiver behind it yet.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let control = Arc::new(Control {
            backend: Mutex::new(None),
            drop_answer: Mutex::new(Box::new(|_| false)),
            dropped: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        });
        let shared = Arc::clone(&control);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, Arc::clone(&shared)));
            }
        });
        Self {
            addr,
            control,
            task,
        }
    }

    /// The URL of `path` through the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Forwards to `backend` from now on (`None`: the receiver is down).
    pub fn set_backend(&self, backend: Option<SocketAddr>) {
        *self.control.backend.lock().expect("proxy lock") = backend;
    }

    /// Decides, for each forwarded request (head and body bytes), whether its answer is
    /// dropped after the receiver has sent it.
    pub fn drop_answers_when(&self, rule: impl FnMut(&[u8]) -> bool + Send + 'static) {
        *self.control.drop_answer.lock().expect("proxy lock") = Box::new(rule);
    }

    /// Drops the answer to the first request that contains each of `needles` (an event id,
    /// say): the receiver handles it, the sender never hears.
    pub fn drop_first_answer_containing(&self, needles: impl IntoIterator<Item = String>) {
        let mut pending: std::collections::HashSet<String> = needles.into_iter().collect();
        self.drop_answers_when(move |request| {
            let text = String::from_utf8_lossy(request);
            let hit = pending.iter().find(|n| text.contains(n.as_str())).cloned();
            hit.is_some_and(|needle| pending.remove(&needle))
        });
    }

    /// How many answers were dropped.
    pub fn dropped(&self) -> usize {
        self.control.dropped.load(Ordering::SeqCst)
    }

    /// How many requests reached the receiver.
    pub fn forwarded(&self) -> usize {
        self.control.forwarded.load(Ordering::SeqCst)
    }

    /// How many connections found no receiver.
    pub fn refused(&self) -> usize {
        self.control.refused.load(Ordering::SeqCst)
    }
}

/// Where the head ends and how long the body is, once the head is complete.
fn framing(buffer: &[u8]) -> Option<(usize, usize)> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..end]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    Some((end, length))
}

/// The request with any `Connection` header replaced by `Connection: close`.
fn closing(request: &[u8], head_end: usize) -> Vec<u8> {
    let head = String::from_utf8_lossy(&request[..head_end - 4]);
    let mut out = Vec::with_capacity(request.len() + 19);
    for (i, line) in head.split("\r\n").enumerate() {
        let is_connection = line
            .split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("connection"));
        if i > 0 && is_connection {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&request[head_end..]);
    out
}

async fn serve(mut client: TcpStream, control: Arc<Control>) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, length) = loop {
        if let Some(framed) = framing(&request) {
            break framed;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    };
    while request.len() < head_end + length {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    let backend = *control.backend.lock().expect("proxy lock");
    let Some(backend) = backend else {
        control.refused.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(backend).await else {
        control.refused.fetch_add(1, Ordering::SeqCst);
        return;
    };
    if upstream
        .write_all(&closing(&request, head_end))
        .await
        .is_err()
    {
        return;
    }
    control.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut answer = Vec::new();
    if upstream.read_to_end(&mut answer).await.is_err() {
        return;
    }
    let drop_it = (control.drop_answer.lock().expect("proxy lock"))(&request);
    if drop_it {
        control.dropped.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let _ = client.write_all(&answer).await;
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_needs_the_whole_head_and_reads_content_length() {
        assert_eq!(framing(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n"), None);
        assert_eq!(
            framing(b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nab"),
            Some((38, 5))
        );
        assert_eq!(framing(b"HEAD / HTTP/1.1\r\n\r\n"), Some((19, 0)));
    }

    #[test]
    fn closing_replaces_the_connection_header() {
        let request = b"POST / HTTP/1.1\r\nConnection: keep-alive\r\nx: y\r\n\r\nbody";
        let head_end = framing(request).unwrap().0;
        assert_eq!(
            String::from_utf8(closing(request, head_end)).unwrap(),
            "POST / HTTP/1.1\r\nx: y\r\nconnection: close\r\n\r\nbody"
        );
    }
}
