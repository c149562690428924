//! Raw loopback TCP servers that count the connections they accept and
//! answer in ways no real service would: close at once, never, fixed bytes,
//! or bytes forever. They listen on loopback only.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How a raw server answers.
#[derive(Clone)]
pub enum Reply {
    /// Accept and close at once.
    Close,
    /// Read the request head, write these bytes, close.
    Bytes(Arc<Vec<u8>>),
    /// Accept and never answer (until the test ends).
    Silent,
    /// Read the request head, then write these bytes again and again until
    /// the client goes away: an endless chunked body, an endless stream of
    /// `100 Continue` heads.
    Endless {
        head: &'static [u8],
        repeat: &'static [u8],
    },
}

impl Reply {
    /// A 200 with a chunked body that never ends.
    pub fn endless_chunked_body() -> Reply {
        Reply::Endless {
            head: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            repeat: concat!("400\r\n", include_str!("kib.txt"), "\r\n").as_bytes(),
        }
    }

    /// Informational heads, forever, and never a final response.
    pub fn endless_informational() -> Reply {
        Reply::Endless {
            head: b"",
            repeat: b"HTTP/1.1 100 Continue\r\n\r\n",
        }
    }
}

/// A loopback TCP server that counts the connections it accepts.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// Listens on `ip:port` (a loopback address; port 0 for any) and
    /// answers every connection with `reply`.
    pub async fn start(ip: IpAddr, port: u16, reply: Reply) -> RawServer {
        let listener = TcpListener::bind(SocketAddr::new(ip, port))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                match &reply {
                    Reply::Close => drop(tcp),
                    Reply::Silent => held.push(tcp),
                    Reply::Bytes(bytes) => {
                        let bytes = bytes.clone();
                        tokio::spawn(async move {
                            if read_head(&mut tcp).await {
                                let _ = tcp.write_all(&bytes).await;
                                let _ = tcp.shutdown().await;
                            }
                        });
                    }
                    Reply::Endless { head, repeat } => {
                        let (head, repeat) = (*head, *repeat);
                        tokio::spawn(async move {
                            if !read_head(&mut tcp).await || tcp.write_all(head).await.is_err() {
                                return;
                            }
                            while tcp.write_all(repeat).await.is_ok() {}
                        });
                    }
                }
            }
        });
        RawServer {
            addr,
            accepted,
            task,
        }
    }

    pub async fn counting() -> RawServer {
        RawServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, Reply::Close).await
    }

    /// An HTTP/1.1 response with `status`, a JSON content type and `body`.
    pub async fn http(status: u16, body: &[u8]) -> RawServer {
        let mut bytes = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        RawServer::start(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            0,
            Reply::Bytes(Arc::new(bytes)),
        )
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Reads a request head; false if the client went away first.
async fn read_head(tcp: &mut tokio::net::TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 response from a kept-alive `stream`, its body by
/// `content-length` (none: no body), each read within `wait`; returns the
/// head. Panics when the peer closes first or is silent for `wait`.
pub async fn read_response(
    stream: &mut tokio::net::TcpStream,
    wait: std::time::Duration,
) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(wait, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("a readable connection");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().expect("a content-length"))
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return head;
        }
    }
}
