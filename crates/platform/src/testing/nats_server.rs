//! A private `nats-server` child process that a test can stop and restart.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of `nats-server` in Debian's package, tried when it is not on `PATH`.
const DEBIAN_BINARY: &str = "/usr/sbin/nats-server";

/// Maximum wait for a started server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A `nats-server -js` of its own on a free port of 127.0.0.1, storing JetStream data in a
/// temporary directory. [`stop`](Self::stop) kills it as a crash would, and
/// [`restart`](Self::restart) starts it again on the same port and directory, so streams and
/// messages survive. Dropping the value kills the process and deletes the directory.
#[derive(Debug)]
pub struct TestNatsServer {
    binary: PathBuf,
    port: u16,
    store_dir: PathBuf,
    child: Option<Child>,
}

impl TestNatsServer {
    /// Starts a server and waits until it accepts connections.
    pub async fn start() -> Self {
        let store_dir =
            std::env::temp_dir().join(format!("certitude-nats-{}", super::unique_suffix()));
        std::fs::create_dir_all(&store_dir).expect("the temporary directory is writable");
        let mut server = Self {
            binary: find_binary(),
            port: free_port(),
            store_dir,
            child: None,
        };
        server.restart().await;
        server
    }

    /// Returns the client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            tokio::task::spawn_blocking(move || child.wait())
                .await
                .expect("waiting for nats-server does not panic")
                .expect("the killed nats-server can be reaped");
        }
    }

    /// Starts the server again (after [`stop`](Self::stop)) on the same port and store
    /// directory, and waits until it accepts connections.
    pub async fn restart(&mut self) {
        self.stop().await;
        let child = Command::new(&self.binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {} failed: {error}", self.binary.display()));
        self.child = Some(child);
        wait_until_listening(self.port).await;
    }
}

impl Drop for TestNatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
        std::fs::remove_dir_all(&self.store_dir).ok();
    }
}

fn find_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from(DEBIAN_BINARY)).filter(|path| Path::new(path).is_file()))
        .expect("nats-server is on PATH or in /usr/sbin; install it (apt-get install nats-server)")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

async fn wait_until_listening(port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server did not listen on 127.0.0.1:{port} within {START_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
