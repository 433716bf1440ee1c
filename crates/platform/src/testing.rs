//! Test support on the real Postgres and NATS servers, isolated per test: a fresh schema and
//! role ([`TestDb`]), fresh streams and subject prefix ([`TestNats`]), and a private NATS server
//! that a test may stop and restart ([`TestNatsServer`]).
//!
//! Compiled for this crate's tests and, with the `testing` feature, for other crates' tests.
//! The helpers panic with a message naming the server and the fix when a server is missing,
//! because a test cannot go on without it.

mod db;
mod nats;
mod nats_server;

pub use db::{DEFAULT_DATABASE_URL, TestDb, admin_database_url};
pub use nats::{DEFAULT_NATS_URL, TestNats, nats_url};
pub use nats_server::TestNatsServer;

/// Returns 12 random hexadecimal digits, for names that must not collide between tests.
pub fn unique_suffix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..12].to_owned()
}

/// Returns a loopback address whose port is free now, for a server that must know its port
/// before it starts. The port is drawn below Linux's default ephemeral range (32768 to 60999).
/// The outgoing connections of tests running beside this one take their ports from that
/// range, so they could take a port that `127.0.0.1:0` handed out before the server binds it.
pub fn free_loopback_address() -> std::net::SocketAddr {
    use rand::Rng;
    let mut random = rand::rng();
    for _ in 0..100 {
        let port = random.random_range(20_000..32_768);
        if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port))
            && let Ok(address) = listener.local_addr()
        {
            return address;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port exists")
}

/// Runs `cleanup` to completion on a runtime of its own in another thread, so that `Drop`
/// implementations can release server resources even inside an async test.
fn block_on_elsewhere<F>(cleanup: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let joined = std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(cleanup),
            Err(error) => eprintln!("cleanup skipped: no runtime could be built: {error}"),
        }
    })
    .join();
    if joined.is_err() {
        eprintln!("cleanup panicked; some test resources may remain");
    }
}
