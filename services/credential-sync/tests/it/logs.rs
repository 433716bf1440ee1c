//! The logs of a full run (add with a client certificate, sync, rotate the key, resolve, sync,
//! delete) contain no API key and no private-key bytes, at every level.

use std::io::Write;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use certitude_credential_sync::{OrderCountError, OrderCounter};
use certitude_proto::credential::v1::{
    DeleteCredentialRequest, ResolveCredentialRequest, UpdateCredentialRequest,
};
use entrust_sim::Scenario;
use secrecy::SecretString;
use tracing_subscriber::fmt::MakeWriter;
use uuid::Uuid;

use crate::catalog::sync_now;
use crate::proxy::GatedProxy;
use crate::support::{
    DEMO_KEY, TestService, demo_request, finished_run, first_run, origin, start_simulator,
};

const ROTATED_KEY: &str = "rotated-key-for-the-log-test";

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().expect("the buffer is not poisoned");
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the buffer is not poisoned")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Counts no orders, so that deletion needs no order-manager.
#[derive(Debug)]
struct NoOrders;

#[async_trait]
impl OrderCounter for NoOrders {
    async fn count_orders(&self, _credential_id: Uuid) -> Result<u64, OrderCountError> {
        Ok(0)
    }
}

// The default current-thread runtime runs every task of the service on this thread, where the
// subscriber below is the default.
#[tokio::test]
async fn full_run_logs_no_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let demo = start_simulator(Scenario::demo()).await;
    let mut rotated = Scenario::demo();
    rotated.api_users[0].api_key = SecretString::from(ROTATED_KEY);
    let rotated = start_simulator(rotated).await;
    let proxy = GatedProxy::start(&origin(&demo)).await;
    let mut service = TestService::start_with_orders(Arc::new(NoOrders)).await;
    let certified = rcgen::generate_simple_self_signed(vec!["client.example.com".to_owned()])
        .expect("a certificate can be generated");
    let key_pem = certified.signing_key.serialize_pem();
    let mut request = demo_request("demo", &proxy.base_url());
    request.client_certificate_pem = certified.cert.pem();
    request.client_key_pem = key_pem.clone();

    let credential = service
        .client
        .add_credential(request)
        .await
        .expect("the credential is added")
        .into_inner();
    let run = first_run(&mut service.client, &credential.id).await;
    finished_run(&mut service.client, &run.id).await;
    proxy.set_upstream(&origin(&rotated));
    service
        .client
        .update_credential(UpdateCredentialRequest {
            id: credential.id.clone(),
            api_key: Some(ROTATED_KEY.to_owned()),
            ..UpdateCredentialRequest::default()
        })
        .await
        .expect("the rotated key is accepted");
    service
        .client
        .resolve_credential(ResolveCredentialRequest {
            id: credential.id.clone(),
        })
        .await
        .expect("the credential resolves");
    let run = sync_now(&mut service.client, &credential.id).await;
    service
        .client
        .delete_credential(DeleteCredentialRequest {
            id: credential.id.clone(),
            force: false,
        })
        .await
        .expect("the credential is deleted");
    service.stop().await;
    demo.shutdown().await;
    rotated.shutdown().await;

    let logs = captured.text();
    assert_eq!(run.state, "succeeded", "{}", run.error);
    assert!(logs.contains("added Entrust credential demo"), "{logs}");
    assert!(logs.contains("deleted Entrust credential demo"), "{logs}");
    for secret in [DEMO_KEY, ROTATED_KEY] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
    let key_lines = key_pem.lines().filter(|line| !line.starts_with("-----"));
    for line in key_lines {
        assert!(
            !logs.contains(line),
            "the logs contain a line of the private key"
        );
    }
}
