//! A local HTTP endpoint that answers every request with a body the test computes from the
//! request: for answers no stand-in gives (an RDS page that repeats its marker), spoken over
//! the real wire to the real SDK client.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};

/// Every request body seen, in order.
pub type Seen = Arc<Mutex<Vec<String>>>;

/// Starts the endpoint on 127.0.0.1; returns its URL and the request bodies it saw. It serves
/// as long as the test's runtime runs.
pub async fn canned_http(
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> std::io::Result<(String, Seen)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let seen: Seen = Arc::default();
    let answer = Arc::new(answer);
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (answer, log) = (answer.clone(), log.clone());
            tokio::spawn(async move { serve(stream, &*answer, &log).await });
        }
    });
    Ok((url, seen))
}

async fn serve(stream: TcpStream, answer: &(dyn Fn(&str) -> String + Send + Sync), log: &Seen) {
    loop {
        let Some(body) = read_request(&stream).await else {
            return;
        };
        if let Ok(mut log) = log.lock() {
            log.push(body.clone());
        }
        let reply = answer(&body);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if write_all(&stream, response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// One request's body (headers read up to their end, then `content-length` bytes).
async fn read_request(stream: &TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into());
            }
        }
        stream.readable().await.ok()?;
        let mut chunk = [0u8; 8192];
        match stream.try_read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
