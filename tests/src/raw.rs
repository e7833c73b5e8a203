//! A hand-written HTTP/1.1 client over plain TCP, for the requests no HTTP client would send:
//! broken framing, control bytes in headers, oversized heads, bodies that arrive slowly or
//! never end, a sender that goes away mid-body. It writes the bytes it is given as they are and
//! reads what comes back; building the bytes is the caller's business.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long [`exchange`] and its variants wait for the server to finish its answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Writes `bytes` to a fresh connection to `addr` and reads the answer until the server closes
/// the connection: its status (0 without a status line) and body. The request should say
/// `Connection: close` (or be one the server refuses), or the read waits for the idle timeout.
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> (u16, Vec<u8>) {
    exchange_with(addr, bytes, &[], Duration::ZERO, false).await
}

/// [`exchange`], but the connection is half-closed after `bytes`: the sender is gone, and a
/// body shorter than its declared length stays short.
pub async fn exchange_truncated(addr: SocketAddr, bytes: &[u8]) -> (u16, Vec<u8>) {
    exchange_with(addr, bytes, &[], Duration::ZERO, true).await
}

/// [`exchange`] with `head` first, then each of `chunks` after a pause of `pause`: a slow
/// sender. Stops writing when the server stops reading, and reads its answer.
pub async fn exchange_slowly(
    addr: SocketAddr,
    head: &[u8],
    chunks: &[Vec<u8>],
    pause: Duration,
) -> (u16, Vec<u8>) {
    exchange_with(addr, head, chunks, pause, false).await
}

async fn exchange_with(
    addr: SocketAddr,
    bytes: &[u8],
    chunks: &[Vec<u8>],
    pause: Duration,
    half_close: bool,
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // A peer that stops reading early (413, 431) may reset the write; the answer still came.
    let _ = stream.write_all(bytes).await;
    for chunk in chunks {
        tokio::time::sleep(pause).await;
        if stream.write_all(chunk).await.is_err() {
            break;
        }
    }
    // hyper drops a request whose sender half-closed before the answer was ready, so only
    // the request that must look cut off does it.
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(ANSWER_WITHIN, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    });
    read.await.expect("the server answered within 10 s");
    parse_answer(&answer)
}

/// Status (0 without a status line) and body of a whole raw HTTP/1.1 answer.
pub fn parse_answer(answer: &[u8]) -> (u16, Vec<u8>) {
    let body = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| answer[at + 4..].to_vec())
        .unwrap_or_default();
    (status_of(answer).unwrap_or(0), body)
}

/// The code in the status line at the start of `answer`.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// The status code of an HTTP/1 answer on `stream`, if its head arrives within `within`. Reads
/// the head only, so the connection can be watched further.
pub async fn status_within(stream: &mut TcpStream, within: Duration) -> Option<u16> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let read_head = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(within, read_head).await;
    status_of(&answer)
}

/// Reads until the server closes `stream`; how long that took, or `None` if it was still open
/// after `within`.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end)
        .await
        .ok()
        .map(|()| started.elapsed())
}

/// `piece` as one chunk of a `Transfer-Encoding: chunked` body.
pub fn chunk(piece: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
    out.extend_from_slice(piece);
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole chunked body: each of `pieces` as a chunk, then the last (empty) chunk.
pub fn chunked(pieces: &[&[u8]]) -> Vec<u8> {
    let mut out: Vec<u8> = pieces.iter().flat_map(|piece| chunk(piece)).collect();
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_split_into_its_status_and_body() {
        let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_answer(answer), (413, b"{}".to_vec()));
    }

    #[test]
    fn no_answer_is_status_zero_without_a_body() {
        assert_eq!(parse_answer(b""), (0, Vec::new()));
        assert_eq!(parse_answer(b"garbage"), (0, Vec::new()));
    }

    #[test]
    fn a_chunked_body_ends_with_the_last_chunk() {
        let body = chunked(&[b"{}", b"0123456789abcdef"]);
        assert_eq!(body, b"2\r\n{}\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
        assert_eq!(chunked(&[]), b"0\r\n\r\n");
    }
}
