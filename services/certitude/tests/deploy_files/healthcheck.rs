//! The container health check script against a real service on the local Postgres and NATS.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certitude_platform::testing::{TestDb, TestNats, nats_url};
use secrecy::ExposeSecret;

use crate::dockerfile::HEALTHCHECK_SCRIPT;
use crate::{CERTITUDE, repository_root};

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

/// Runs the health check script for `path` against `127.0.0.1:<port>` and returns whether it
/// succeeded.
fn healthcheck_passes(path: &str, port: u16) -> bool {
    Command::new("bash")
        .arg(repository_root().join(HEALTHCHECK_SCRIPT))
        .arg(path)
        .env("CERTITUDE_HTTP_LISTEN", format!("0.0.0.0:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("bash runs the health check script")
        .success()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_script_follows_service_readiness() {
    let db = TestDb::new().await;
    let nats = TestNats::new().await;
    let http_port = free_port();
    let mut service = tokio::process::Command::new(CERTITUDE)
        .arg("renewal-scheduler")
        .env_clear()
        .env("DATABASE_URL", db.settings.url.expose_secret())
        .env("CERTITUDE_DB_SCHEMA", &db.service.schema)
        .env("NATS_URL", nats_url())
        .env("CERTITUDE_EVENT_STREAM", &nats.settings.stream)
        .env("CERTITUDE_SUBJECT_PREFIX", &nats.settings.subject_prefix)
        .env(
            "CERTITUDE_DEAD_LETTER_STREAM",
            &nats.settings.dead_letter_stream,
        )
        .env("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0")
        .env("CERTITUDE_HTTP_LISTEN", format!("127.0.0.1:{http_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the certitude binary starts");

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    while !ready && Instant::now() < deadline {
        let exited = service.try_wait().expect("the child's state is readable");
        assert!(
            exited.is_none(),
            "renewal-scheduler exited early: {exited:?}"
        );
        ready = tokio::task::spawn_blocking(move || healthcheck_passes("/readyz", http_port))
            .await
            .expect("the health check does not panic");
        if !ready {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let missing_route_passes = healthcheck_passes("/no-such-route", http_port);
    service.start_kill().expect("the service can be killed");
    service.wait().await.expect("the killed service ends");
    let stopped_passes = healthcheck_passes("/readyz", http_port);

    assert!(
        ready,
        "the health check did not pass on a ready service within 60 s"
    );
    assert!(!missing_route_passes, "the health check passed on a 404");
    assert!(
        !stopped_passes,
        "the health check passed with the service stopped"
    );
    db.drop_now().await;
    nats.delete_streams().await;
}
