//! A NATS cluster with JetStream for tests of what a cluster changes (stream replicas, the loss
//! of a node): each node is a `nats-server` child process on free ports of 127.0.0.1, with its
//! own store directory under one temporary directory. Only flags of nats-server 2.9 are used.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

/// Path of `nats-server` in Debian's package, tried when it is not on `PATH`.
const DEBIAN_BINARY: &str = "/usr/sbin/nats-server";

/// Maximum wait for every node to listen and for JetStream to elect its meta leader.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Name every node gives with `--cluster_name`.
const CLUSTER_NAME: &str = "certitude-test";

/// One `nats-server` of a [`NatsCluster`].
#[derive(Debug)]
struct Node {
    name: String,
    client_port: u16,
    cluster_port: u16,
    child: Option<Child>,
}

/// A cluster of `nats-server -js` processes, routed to each other on loopback. Dropping the
/// value kills every node that still runs and deletes the store directories.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<Node>,
    store_root: PathBuf,
}

impl NatsCluster {
    /// Starts `size` nodes (3 for JetStream replicas of 3) and waits until every node accepts
    /// clients and JetStream can place a stream on every node.
    ///
    /// # Panics
    /// When `nats-server` is missing, a node does not start, or JetStream is not available
    /// within 30 seconds.
    pub async fn start(size: usize) -> Self {
        assert!(size >= 1, "a cluster has at least one node");
        let binary = find_binary();
        let store_root = std::env::temp_dir().join(format!(
            "certitude-nats-cluster-{}",
            certitude_platform::testing::unique_suffix()
        ));
        std::fs::create_dir_all(&store_root).expect("the temporary directory is writable");

        let ports = free_ports(2 * size);
        let mut cluster = Self {
            nodes: (0..size)
                .map(|index| Node {
                    name: format!("node-{index}"),
                    client_port: ports[2 * index],
                    cluster_port: ports[2 * index + 1],
                    child: None,
                })
                .collect(),
            store_root,
        };
        for index in 0..size {
            let child = cluster.spawn_node(&binary, index);
            cluster.nodes[index].child = Some(child);
        }
        for node in &cluster.nodes {
            wait_until_listening(node.client_port).await;
        }
        cluster.wait_for_jetstream().await;
        cluster
    }

    /// Returns the client URLs of every node, separated by commas, as `NATS_URL` takes them.
    pub fn url(&self) -> String {
        self.node_urls().join(",")
    }

    /// Returns the client URL of every node, as `async_nats::connect` takes a server list.
    pub fn node_urls(&self) -> Vec<String> {
        (0..self.nodes.len())
            .map(|index| self.node_url(index))
            .collect()
    }

    /// Returns the client URL of node `index`, `nats://127.0.0.1:<port>`.
    pub fn node_url(&self, index: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[index].client_port)
    }

    /// Returns the server name of node `index`, as JetStream reports it in stream and cluster
    /// information.
    pub fn node_name(&self, index: usize) -> &str {
        &self.nodes[index].name
    }

    /// Returns the index of the node whose server name is `name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|node| node.name == name)
    }

    /// Kills node `index` with SIGKILL, as a crash would, and waits for it to exit.
    pub async fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            child.kill().ok();
            tokio::task::spawn_blocking(move || child.wait())
                .await
                .expect("waiting for nats-server does not panic")
                .expect("the killed nats-server can be reaped");
        }
    }

    fn spawn_node(&self, binary: &Path, index: usize) -> Child {
        let node = &self.nodes[index];
        let store_dir = self.store_root.join(&node.name);
        let routes: Vec<String> = self
            .nodes
            .iter()
            .filter(|other| other.name != node.name)
            .map(|other| format!("nats://127.0.0.1:{}", other.cluster_port))
            .collect();
        let mut command = Command::new(binary);
        command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &node.client_port.to_string(),
            ])
            .args(["--server_name", &node.name, "--cluster_name", CLUSTER_NAME])
            .arg("--cluster")
            .arg(format!("nats://127.0.0.1:{}", node.cluster_port))
            .arg("-sd")
            .arg(&store_dir);
        if !routes.is_empty() {
            command.arg("--routes").arg(routes.join(","));
        }
        command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {} failed: {error}", binary.display()))
    }

    /// Waits until JetStream can place a stream with one replica on every node (5 at most, the
    /// JetStream limit), which needs the cluster's meta leader and the nodes known to it. The
    /// probe stream is deleted again.
    async fn wait_for_jetstream(&self) {
        let client = async_nats::connect(self.node_urls())
            .await
            .unwrap_or_else(|error| panic!("connecting to {} failed: {error}", self.url()));
        let jetstream = jetstream::new(client);
        let suffix = certitude_platform::testing::unique_suffix();
        let probe = stream::Config {
            name: format!("CLUSTER_PROBE_{suffix}"),
            subjects: vec![format!("cluster_probe_{suffix}")],
            storage: stream::StorageType::Memory,
            num_replicas: self.nodes.len().min(5),
            ..stream::Config::default()
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match jetstream.create_stream(probe.clone()).await {
                Ok(_) => break,
                Err(error) => assert!(
                    Instant::now() < deadline,
                    "JetStream of the cluster at {} could not place {} replicas within \
                     {START_TIMEOUT:?}: {error}",
                    self.url(),
                    probe.num_replicas
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        jetstream
            .delete_stream(&probe.name)
            .await
            .unwrap_or_else(|error| panic!("deleting the probe stream failed: {error}"));
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                child.kill().ok();
                child.wait().ok();
            }
        }
        std::fs::remove_dir_all(&self.store_root).ok();
    }
}

fn find_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from(DEBIAN_BINARY)).filter(|path| path.is_file()))
        .expect("nats-server is on PATH or in /usr/sbin; install it (apt-get install nats-server)")
}

/// Returns `count` distinct free ports of 127.0.0.1. All listeners are open at once, so no
/// port is returned twice; another process may still take one before a node binds it.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| {
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .expect("the loopback interface has a free port")
        })
        .collect();
    listeners
        .iter()
        .map(|listener| {
            listener
                .local_addr()
                .expect("a bound listener has an address")
                .port()
        })
        .collect()
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
