//! A counting, fault-injecting HTTP/1.1 proxy put between Sluice and a test object store.
//!
//! Every request Sluice sends is logged (method, path, query) before anything else, so tests
//! assert on what reached the store — not on Sluice's own claims. Faults, counted over the
//! requests that match them, are injected on demand: a 503 answer, a connection closed without
//! an answer, or a response whose body is cut in the middle. Each connection carries one request
//! (`Connection: close` both ways); bodies are streamed, never buffered whole.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::http::find;

/// One request as the store would have received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// GET, PUT, ...
    pub method: String,
    /// The path, percent-decoded (clients encode differently: GCS's encodes every `/` and `-`).
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// The `Range` header, when there is one.
    pub range: Option<String>,
}

impl Request {
    /// The value of query parameter `name`, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| decode(v))
        })
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every request.
    All,
    /// GETs of objects (not listings).
    ObjectGets,
    /// Listings.
    Lists,
}

/// Faults to inject: each `every` counts the matching requests (0 = off).
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Answer 503 (Service Unavailable / SlowDown) to every n-th matching request.
    pub status_503_every: u64,
    /// Close the connection without an answer on every n-th matching request.
    pub reset_every: u64,
    /// Cut the response body in the middle on every n-th matching request.
    pub cut_body_every: u64,
    /// Which requests count.
    pub target: Target,
}

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults {
        status_503_every: 0,
        reset_every: 0,
        cut_body_every: 0,
        target: Target::All,
    };
}

/// A hook run on each request before it is forwarded (e.g. delete the object it asks for).
pub type Hook = Box<dyn FnMut(&Request) + Send>;

struct Shared {
    upstream: String,
    log: Mutex<Vec<Request>>,
    faults: Mutex<Faults>,
    matched: AtomicU64,
    injected: AtomicU64,
    hook: Mutex<Option<Hook>>,
    /// Tells listings from object GETs: a GET whose path is one of these prefixes (the bucket).
    list_paths: Vec<String>,
    stop: AtomicBool,
}

/// The running proxy; stops accepting when dropped.
pub struct Proxy {
    /// Its loopback port.
    pub port: u16,
    shared: Arc<Shared>,
    /// The thread accepting connections (none while connections are refused).
    accept: Mutex<Option<thread::JoinHandle<()>>>,
}

/// Accepts connections on `listener` until `shared.stop`, each served on its own thread.
fn accept_loop(listener: TcpListener, s: Arc<Shared>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for conn in listener.incoming() {
            if s.stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let s = s.clone();
            thread::spawn(move || {
                let _ = handle(&s, conn);
            });
        }
    })
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`host:port`). `list_paths` are
    /// the paths of listing requests (e.g. `/bucket`).
    pub fn start(upstream: &str, list_paths: Vec<String>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::NONE),
            matched: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            hook: Mutex::new(None),
            list_paths,
            stop: AtomicBool::new(false),
        });
        let accept = accept_loop(listener, shared.clone());
        Proxy {
            port,
            shared,
            accept: Mutex::new(Some(accept)),
        }
    }

    /// Closes the listening socket: connections are refused (as by a store that is down)
    /// until [`accept_connections`](Self::accept_connections).
    pub fn refuse_connections(&self) {
        let Some(accept) = self.accept.lock().unwrap().take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then drops the listener.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = accept.join();
    }

    /// Listens again on the same port after [`refuse_connections`](Self::refuse_connections).
    pub fn accept_connections(&self) {
        let mut accept = self.accept.lock().unwrap();
        if accept.is_some() {
            return;
        }
        self.shared.stop.store(false, Ordering::SeqCst);
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the proxy again");
        *accept = Some(accept_loop(listener, self.shared.clone()));
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Sets the faults (counting restarts).
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
        self.shared.matched.store(0, Ordering::SeqCst);
    }

    /// How many faults were injected.
    pub fn injected(&self) -> u64 {
        self.shared.injected.load(Ordering::SeqCst)
    }

    /// Runs `hook` on every request before forwarding it.
    pub fn set_hook(&self, hook: Option<Hook>) {
        *self.shared.hook.lock().unwrap() = hook;
    }

    /// True when `r` is a listing.
    pub fn is_list(&self, r: &Request) -> bool {
        is_list(&self.shared, r)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn is_list(s: &Shared, r: &Request) -> bool {
    r.method == "GET"
        && s.list_paths
            .iter()
            .any(|p| r.path == *p || r.path == format!("{p}/"))
}

enum Action {
    Forward,
    Status503,
    Reset,
    CutBody,
}

fn handle(s: &Shared, mut client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    // The request head.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut headers: Vec<String> = lines
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(str::to_owned)
        .collect();
    let req = Request {
        method: method.clone(),
        path: decode(path),
        query: query.to_owned(),
        range: headers.iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("range")
                .then(|| v.trim().to_owned())
        }),
    };
    let content_length: usize = headers
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < content_length {
        let n = client.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    s.log.lock().unwrap().push(req.clone());
    if let Some(hook) = s.hook.lock().unwrap().as_mut() {
        hook(&req);
    }

    let action = {
        let f = *s.faults.lock().unwrap();
        let matches = match f.target {
            Target::All => true,
            Target::ObjectGets => method == "GET" && !is_list(s, &req),
            Target::Lists => is_list(s, &req),
        };
        if matches && (f.status_503_every | f.reset_every | f.cut_body_every) != 0 {
            let n = s.matched.fetch_add(1, Ordering::SeqCst) + 1;
            let hit = |every: u64| every != 0 && n % every == 0;
            if hit(f.status_503_every) {
                Action::Status503
            } else if hit(f.reset_every) {
                Action::Reset
            } else if hit(f.cut_body_every) {
                Action::CutBody
            } else {
                Action::Forward
            }
        } else {
            Action::Forward
        }
    };
    match action {
        Action::Status503 => {
            s.injected.fetch_add(1, Ordering::SeqCst);
            let msg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>injected by the test proxy</Message></Error>";
            write!(
                client,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            )?;
            return Ok(());
        }
        Action::Reset => {
            s.injected.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        _ => {}
    }

    // Forward.
    let mut up = TcpStream::connect(&s.upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    headers.push("Connection: close".into());
    let mut out = format!("{request_line}\r\n");
    for h in &headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    up.write_all(out.as_bytes())?;
    up.write_all(&body)?;

    // The response head.
    let mut rbuf = Vec::new();
    let rhead_end = loop {
        if let Some(i) = find(&rbuf, b"\r\n\r\n") {
            break i;
        }
        let n = up.read(&mut chunk)?;
        if n == 0 {
            client.write_all(&rbuf)?;
            return Ok(());
        }
        rbuf.extend_from_slice(&chunk[..n]);
    };
    let rhead = String::from_utf8_lossy(&rbuf[..rhead_end]).into_owned();
    let status: u16 = rhead
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut rlines: Vec<&str> = rhead
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let body_len: Option<usize> = rlines.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    });
    rlines.push("Connection: close");
    let no_body = method == "HEAD" || status == 204 || status == 304;
    let mut to_send: Option<usize> = if no_body { Some(0) } else { body_len };
    if matches!(action, Action::CutBody) && !no_body && status / 100 == 2 {
        s.injected.fetch_add(1, Ordering::SeqCst);
        to_send = Some(body_len.map_or(512, |l| (l / 2).max(1).min(l.saturating_sub(1))));
    }
    let mut head_out = rlines.join("\r\n");
    head_out.push_str("\r\n\r\n");
    client.write_all(head_out.as_bytes())?;
    let mut pending = rbuf[rhead_end + 4..].to_vec();
    let mut sent = 0usize;
    loop {
        if !pending.is_empty() {
            let take = match to_send {
                Some(limit) => pending.len().min(limit - sent),
                None => pending.len(),
            };
            client.write_all(&pending[..take])?;
            sent += take;
            pending.clear();
        }
        if to_send.is_some_and(|limit| sent >= limit) {
            break;
        }
        let n = up.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}
