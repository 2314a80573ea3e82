//! Attacks on `mmdump serve` from another local user (issue 11, attack
//! 8): slow clients that hold every connection slot (Slowloris), and
//! `Host` tricks that would let a web page reach the loopback server
//! through DNS rebinding or a confused proxy. Every attacker here talks to
//! 127.0.0.1 only and is bounded in connections and time; the server is
//! killed when a test ends.
#![cfg(feature = "serve")]

mod mmdump_common;
mod serve_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serve_common::{Reply, parse, serve, stats_dir};

/// Connections the Slowloris attack keeps open (more than the server's
/// default cap of 256).
const SLOW_CONNECTIONS: usize = 300;
/// Threads that drive them.
const ATTACK_THREADS: usize = 6;

/// One raw request with short timeouts: the reply, and how long it took.
fn timed_exchange(address: SocketAddr, raw: &[u8]) -> (Result<Reply, String>, Duration) {
    let started = Instant::now();
    let result = (|| {
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(3))
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        stream.write_all(raw).map_err(|e| format!("write: {e}"))?;
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        if !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
            return Err(format!(
                "no response within 5 s (got {:?})",
                String::from_utf8_lossy(&bytes)
            ));
        }
        Ok(parse(&bytes))
    })();
    (result, started.elapsed())
}

/// Keeps `SLOW_CONNECTIONS` connections open to `address`, each sending
/// one byte of a request head a second and never finishing it; a
/// connection the server closes is opened again at once.
struct Slowloris {
    stop: Arc<AtomicBool>,
    reconnects: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Slowloris {
    fn start(address: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let reconnects = Arc::new(AtomicUsize::new(0));
        let threads = (0..ATTACK_THREADS)
            .map(|_| {
                let stop = Arc::clone(&stop);
                let reconnects = Arc::clone(&reconnects);
                std::thread::spawn(move || {
                    let open = || {
                        let mut stream =
                            TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
                        stream
                            .set_write_timeout(Some(Duration::from_millis(200)))
                            .ok()?;
                        stream.set_nonblocking(true).ok()?;
                        stream.write_all(b"G").ok()?;
                        Some(stream)
                    };
                    let mut streams: Vec<Option<TcpStream>> = (0..SLOW_CONNECTIONS
                        / ATTACK_THREADS)
                        .map(|_| open())
                        .collect();
                    // The rest of an endless head, one byte a second.
                    let tail = b"ET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
                    let mut sent = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let byte = tail.get(sent).copied().unwrap_or(b'a');
                        sent += 1;
                        for slot in &mut streams {
                            let mut alive = false;
                            if let Some(stream) = slot {
                                // A closed connection reads as end of file
                                // (or a reset); a live one has nothing.
                                let mut probe = [0u8; 64];
                                alive = match stream.read(&mut probe) {
                                    Ok(0) => false,
                                    Ok(_) => false,
                                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                                } && stream.write(&[byte]).is_ok();
                            }
                            if !alive {
                                reconnects.fetch_add(1, Ordering::Relaxed);
                                *slot = open();
                            }
                        }
                        for _ in 0..10 {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                })
            })
            .collect();
        Self {
            stop,
            reconnects,
            threads,
        }
    }
}

impl Drop for Slowloris {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[test]
fn slowloris_cannot_keep_healthz_from_answering() {
    let dir = stats_dir();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let address = server.address;
    let attack = Slowloris::start(address);
    // Let every slow connection be opened and start trickling.
    std::thread::sleep(Duration::from_secs(2));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    // For over 12 s: longer than the default 10 s header timeout, so the
    // attackers are cut off and reconnect meanwhile.
    let until = Instant::now() + Duration::from_secs(12);
    let mut answered = 0;
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        let (reply, took) = timed_exchange(address, request.as_bytes());
        let reply = reply.unwrap_or_else(|e| panic!("/healthz under Slowloris: {e}"));
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (200, "ok\n"),
            "/healthz under Slowloris (after {took:?})"
        );
        assert!(
            took < Duration::from_secs(3),
            "/healthz took {took:?} under Slowloris"
        );
        slowest = slowest.max(took);
        answered += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    let reconnects = attack.reconnects.load(Ordering::Relaxed);
    drop(attack);
    eprintln!(
        "{answered} /healthz requests answered 200 under {SLOW_CONNECTIONS} slow connections \
         ({reconnects} reconnects); slowest {slowest:?}"
    );
    assert!(answered >= 10, "only {answered} requests in 12 s");
    assert!(
        reconnects > 0,
        "the server never closed a slow connection: the attack did not reach the cap"
    );
}

/// The status and body of one raw request (`Connection: close` added).
fn status_of(address: SocketAddr, head: &str) -> (u16, String) {
    let raw = format!("{head}Connection: close\r\n\r\n");
    let (reply, _) = timed_exchange(address, raw.as_bytes());
    let reply = reply.unwrap_or_else(|e| panic!("{head:?}: {e}"));
    (reply.status, reply.text())
}

fn assert_refused(address: SocketAddr, what: &str, head: &str) {
    let (status, body) = status_of(address, head);
    assert!(
        status == 400 || status == 421,
        "{what}: answered {status}, not 400 or 421: {body:?}"
    );
    assert!(
        !body.contains("ok\n") && !body.contains("# TYPE"),
        "{what}: served anyway: {body:?}"
    );
}

#[test]
fn two_host_headers_are_refused() {
    let dir = stats_dir();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let address = server.address;
    assert_refused(
        address,
        "a loopback Host, then another",
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n",
    );
    assert_refused(
        address,
        "two loopback Hosts",
        &format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nHost: {address}\r\n"),
    );
}

#[test]
fn http11_without_host_is_refused() {
    let dir = stats_dir();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let address = server.address;
    assert_refused(
        address,
        "HTTP/1.1 without Host",
        "GET /healthz HTTP/1.1\r\n",
    );
    // HTTP/1.0 has no Host requirement: still served.
    assert_eq!(
        status_of(address, "GET /healthz HTTP/1.0\r\n"),
        (200, "ok\n".into())
    );
}

#[test]
fn absolute_form_naming_another_host_is_refused() {
    let dir = stats_dir();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let address = server.address;
    assert_refused(
        address,
        "absolute-form to evil.example",
        "GET http://evil.example/metrics HTTP/1.1\r\nHost: localhost\r\n",
    );
    assert_refused(
        address,
        "absolute-form with user info",
        &format!("GET http://evil@{address}/healthz HTTP/1.1\r\nHost: {address}\r\n"),
    );
    // The target's authority wins over Host (RFC 9112 section 3.2.2): a
    // loopback target is served whatever Host says.
    assert_eq!(
        status_of(
            address,
            &format!("GET http://{address}/healthz HTTP/1.1\r\nHost: {address}\r\n")
        ),
        (200, "ok\n".into())
    );
}

#[test]
fn subdomains_of_localhost_and_other_ports_are_refused() {
    let dir = stats_dir();
    let server = serve(&[dir.path().to_str().unwrap()]);
    let address = server.address;
    let port = address.port();
    for host in [
        "evil.localhost".to_owned(),
        format!("evil.localhost:{port}"),
        "localhost.evil".to_owned(),
        format!("localhost.evil:{port}"),
        format!("localhost:{}", if port == 1 { 2 } else { 1 }),
        "127.0.0.2".to_owned(),
        "::1".to_owned(),
        "local host".to_owned(),
    ] {
        assert_refused(
            address,
            &format!("Host: {host}"),
            &format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n"),
        );
    }
    for host in [
        "localhost".to_owned(),
        format!("LocalHost:{port}"),
        format!("127.0.0.1:{port}"),
        "[::1]".to_owned(),
    ] {
        assert_eq!(
            status_of(
                address,
                &format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n")
            ),
            (200, "ok\n".into()),
            "Host: {host}"
        );
    }
}
