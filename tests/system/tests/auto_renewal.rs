//! Automatic renewal end to end: every service in this process, the simulator and the
//! services on one manual clock, policies set over renewal-scheduler's gRPC API, and Entrust's
//! side counted in the simulator's request log.

// A failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration as StdDuration;

use certitude_platform::clock::ManualClock;
use certitude_platform::testing::nats_url;
use certitude_proto::order::v1::order_service_client::OrderServiceClient;
use certitude_proto::order::v1::{RenewOrderRequest, RevokeOrderRequest};
use certitude_proto::renewal::v1::renewal_service_client::RenewalServiceClient;
use certitude_proto::renewal::v1::{
    GetExpiryRequest, GetRenewalForecastRequest, GetRenewalPolicyRequest, ListRenewalAuditRequest,
    MaintenanceWindow, RenewalAuditEntry, SetRenewalPolicyRequest,
};
use certitude_system_tests::{Api, System};
use entrust_sim::Scenario;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;
use tonic::Code;
use tonic::transport::Channel;

const START: OffsetDateTime = datetime!(2027-01-10 12:00 UTC);

async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + StdDuration::from_secs(120);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// The deadline of one wait, for loops that keep what they read.
struct Deadline(Instant);

impl Deadline {
    fn start() -> Self {
        Self(Instant::now() + StdDuration::from_secs(120))
    }

    async fn wait(&self, what: &str) {
        assert!(Instant::now() < self.0, "timed out waiting until {what}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// Runs the tests of this file one at a time: each starts every service with its own pools
/// (the two-replica test one more scheduler), and several at once exhaust the connection slots
/// of a Postgres with the default `max_connections` of 100.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Harness {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    system: System,
    clock: ManualClock,
    api: Api,
    renewals: RenewalServiceClient<Channel>,
    orders: OrderServiceClient<Channel>,
    credential_id: String,
}

impl Harness {
    async fn start() -> Self {
        Self::start_at(START).await
    }

    async fn start_at(start: OffsetDateTime) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let clock = ManualClock::new(start);
        let mut scenario = Scenario::demo();
        // Room for every order and renewal of the largest test at its full size.
        for item in &mut scenario.inventory {
            if item.product_type == "STANDARD_SSL" {
                item.total_count += 2_500;
                item.remaining_count += 2_500;
            }
        }
        let admin = scenario
            .api_users
            .iter()
            .find(|user| user.user_name == "demo-admin")
            .unwrap()
            .clone();
        let system = System::start_with(scenario, clock.shared()).await.unwrap();
        let api = system.api();
        let (status, credential) = api
            .post(
                "/v1/credentials",
                json!({
                    "name": "demo",
                    "api_base_url": system.sim.base_url(),
                    "username": admin.user_name,
                    "api_key": admin.api_key.expose_secret(),
                    "is_administrator": true,
                }),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{credential}");
        let renewals = RenewalServiceClient::connect(format!("http://{}", system.renewal_grpc))
            .await
            .unwrap();
        let orders = OrderServiceClient::connect(format!("http://{}", system.order_manager_grpc))
            .await
            .unwrap();
        Self {
            _turn: turn,
            credential_id: credential["id"].as_str().unwrap().to_owned(),
            system,
            clock,
            api,
            renewals,
            orders,
        }
    }

    /// Creates an issued order for `name` with `validity_days`, and waits until the scheduler
    /// recorded its certificate.
    async fn issued_order(&self, name: &str, validity_days: u32) -> Value {
        let (status, order) = self
            .api
            .call(
                Method::POST,
                "/v1/orders",
                Some(json!({
                    "credential_id": self.credential_id,
                    "product": "STANDARD_SSL",
                    "common_name": name,
                    "validity_days": validity_days,
                })),
                Some(&format!("order-{name}")),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{order}");
        assert_eq!(order["status"], "ISSUED", "{order}");
        let certificate_id = order["certificate_id"].as_str().unwrap().to_owned();
        self.wait_for_expiry(&certificate_id).await;
        order
    }

    /// Waits until the scheduler recorded the certificate; returns its planned renewal.
    async fn wait_for_expiry(&self, certificate_id: &str) -> String {
        let deadline = Deadline::start();
        loop {
            let request = GetExpiryRequest {
                certificate_id: certificate_id.to_owned(),
            };
            if let Ok(expiry) = self.renewals.clone().get_expiry(request).await {
                return expiry.into_inner().next_renewal_at;
            }
            deadline
                .wait("the scheduler recorded the certificate")
                .await;
        }
    }

    async fn set_policy(&self, request: SetRenewalPolicyRequest) {
        self.renewals
            .clone()
            .set_renewal_policy(request)
            .await
            .unwrap();
    }

    async fn audit(&self, order_id: &str) -> Vec<RenewalAuditEntry> {
        self.renewals
            .clone()
            .list_renewal_audit(ListRenewalAuditRequest {
                order_id: order_id.to_owned(),
                page_size: 500,
                ..ListRenewalAuditRequest::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries
    }

    async fn wait_for_audit(&self, order_id: &str, outcome: &str) -> RenewalAuditEntry {
        let deadline = Deadline::start();
        loop {
            let entries = self.audit(order_id).await;
            // The filter also matches the attempt that placed `order_id`; this wants its own.
            let own = entries
                .into_iter()
                .find(|entry| entry.order_id == order_id && entry.outcome == outcome);
            if let Some(entry) = own {
                return entry;
            }
            deadline
                .wait(&format!("an audit entry {outcome} for {order_id}"))
                .await;
        }
    }

    fn entrust_posts(&self, suffix: &str) -> usize {
        self.system
            .sim
            .request_log()
            .iter()
            .filter(|request| request.method == "POST" && request.path.ends_with(suffix))
            .count()
    }

    /// Lets a few scans of the scheduler run at the current time.
    async fn let_scans_run(&self) {
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
    }
}

fn policy(order: &Value) -> SetRenewalPolicyRequest {
    SetRenewalPolicyRequest {
        order_id: order["id"].as_str().unwrap().to_owned(),
        enabled: true,
        actor: "system-test".to_owned(),
        ..SetRenewalPolicyRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policy_renews_lineage_twice_and_blocks_manual_renewal() {
    let harness = Harness::start().await;
    let order = harness.issued_order("lineage.example.com", 90).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    let (status, stored) = harness
        .api
        .call(
            Method::PUT,
            &format!("/v1/orders/{order_id}/renewal-policy"),
            Some(json!({ "renew_days_before_expiry": 30 })),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["enabled"], true);
    assert_eq!(stored["renew_days_before_expiry"], 30);
    // At once, before order-manager can have consumed RenewalPolicyChanged: the gateway reads
    // the policy from renewal-scheduler.
    let (status, problem) = harness
        .api
        .call(
            Method::POST,
            &format!("/v1/orders/{order_id}/renew"),
            Some(json!({})),
            Some("renew-right-after-policy"),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("auto-renewal policy"),
        "{problem}"
    );
    for (body, field) in [
        (
            json!({ "renew_days_before_expiry": 0 }),
            "renew_days_before_expiry",
        ),
        (json!({ "max_attempts": 0 }), "max_attempts"),
        (json!({ "product": "STANDARD_SSL\u{0}" }), "product"),
        (json!({ "product": "x".repeat(20_000) }), "product"),
        (
            json!({ "admin_credential_id": "bogus" }),
            "admin_credential_id",
        ),
        (
            json!({ "maintenance_window": { "days": ["SAT"], "start_hour": 1, "end_hour": 5,
                                            "time_zone": "Z".repeat(20_000) } }),
            "maintenance_window.time_zone",
        ),
    ] {
        let (status, problem) = harness
            .api
            .call(
                Method::PUT,
                &format!("/v1/orders/{order_id}/renewal-policy"),
                Some(body),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default().to_owned();
        let named = detail.contains(field) || problem.to_string().contains(field);
        assert!(named, "{field}: {problem}");
        assert!(
            detail.len() < 1_000,
            "{field}: the detail repeats the input"
        );
    }
    let (status, lowered) = harness
        .api
        .call(
            Method::PUT,
            &format!("/v1/orders/{order_id}/renewal-policy"),
            Some(json!({ "renew_days_before_expiry": 30, "product": "standard_ssl" })),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{lowered}");
    assert_eq!(lowered["product"], "STANDARD_SSL");

    let deadline = Deadline::start();
    let rejection = loop {
        let request = RenewOrderRequest {
            id: order_id.clone(),
            idempotency_key: "manual-renewal".to_owned(),
            ..RenewOrderRequest::default()
        };
        match harness.orders.clone().renew_order(request).await {
            Err(status) if status.message().contains("auto-renewal policy") => break status,
            _ => {
                deadline
                    .wait("order-manager rejects a manual renewal")
                    .await
            }
        }
    };
    assert_eq!(rejection.code(), Code::FailedPrecondition);
    assert!(
        rejection.message().contains("disable the policy"),
        "{}",
        rejection.message()
    );

    harness.clock.advance(Duration::days(61));
    let first = harness.wait_for_audit(&order_id, "succeeded").await;
    let second_order_id = first.new_order_id.clone();
    let moved = harness
        .renewals
        .clone()
        .get_renewal_policy(GetRenewalPolicyRequest {
            order_id: second_order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.renewals, 1);
    let second_order = harness
        .api
        .get(&format!("/v1/orders/{second_order_id}"))
        .await
        .unwrap();
    let second_certificate = second_order["certificate_id"].as_str().unwrap().to_owned();
    let planned = harness.wait_for_expiry(&second_certificate).await;
    assert!(!planned.is_empty(), "the renewal's certificate is planned");

    harness.clock.advance(Duration::days(61));
    let second = harness.wait_for_audit(&second_order_id, "succeeded").await;

    assert_eq!(
        first.certificate_id,
        order["certificate_id"].as_str().unwrap()
    );
    assert_eq!(second.certificate_id, second_certificate);
    assert_ne!(second.new_order_id, second_order_id);
    assert_eq!(harness.entrust_posts("/renewals"), 2);
    assert_eq!(harness.audit(&order_id).await.len(), 1);
    let audit = harness
        .api
        .get(&format!(
            "/v1/renewals/audit?order_id={second_order_id}&limit=1"
        ))
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    assert!(
        audit["next_cursor"].is_string(),
        "two entries name the order: {audit}"
    );
    let (status, disabled) = harness
        .api
        .call(
            Method::DELETE,
            &format!("/v1/orders/{}/renewal-policy", second.new_order_id),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["renewals"], 2);
    harness.system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_certificate_is_never_renewed() {
    let harness = Harness::start().await;
    let order = harness.issued_order("revoked.example.com", 90).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    harness.set_policy(policy(&order)).await;
    harness
        .orders
        .clone()
        .revoke_order(RevokeOrderRequest {
            id: order_id.clone(),
            reason: "unspecified".to_owned(),
            ..RevokeOrderRequest::default()
        })
        .await
        .unwrap();
    let renewal_db = harness.system.renewal_db();
    eventually("the scheduler recorded the revocation", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM certificate_expiries WHERE revoked_at IS NOT NULL",
        )
        .fetch_one(&renewal_db.pool)
        .await
        .unwrap()
            == 1
    })
    .await;

    harness.clock.advance(Duration::days(80));
    harness.let_scans_run().await;
    let (status, problem) = harness
        .api
        .call(
            Method::PUT,
            &format!("/v1/orders/{order_id}/renewal-policy"),
            Some(json!({})),
            None,
        )
        .await
        .unwrap();

    assert_eq!(harness.entrust_posts("/renewals"), 0);
    assert!(harness.audit(&order_id).await.is_empty());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("ISSUED order"),
        "{problem}"
    );
    harness.system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn young_certificate_is_rescheduled_and_audited() {
    let harness = Harness::start().await;
    let order = harness.issued_order("young.example.com", 60).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    // 15% of 60 days: the renewal falls on day 9, inside Entrust's 30 days after issue. (A
    // days-before period this long would be capped at a third of the lifetime.)
    harness
        .set_policy(SetRenewalPolicyRequest {
            renew_at_lifetime_percent: 15,
            ..policy(&order)
        })
        .await;

    harness.clock.advance(Duration::days(10));
    let rescheduled = harness.wait_for_audit(&order_id, "rescheduled").await;

    assert!(
        rescheduled
            .error
            .contains("only from 30 days after its issue"),
        "{}",
        rescheduled.error
    );
    assert!(rescheduled.new_order_id.is_empty());
    assert_eq!(harness.entrust_posts("/renewals"), 0);

    harness.clock.advance(Duration::days(21));
    let succeeded = harness.wait_for_audit(&order_id, "succeeded").await;

    assert!(!succeeded.new_order_id.is_empty());
    assert_eq!(harness.entrust_posts("/renewals"), 1);
    harness.system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_lived_certificate_is_replaced_once() {
    let harness = Harness::start().await;
    let order = harness.issued_order("short.example.com", 7).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    harness.set_policy(policy(&order)).await;
    let orders_before = harness.entrust_posts("/certificates");

    harness.clock.advance(Duration::days(6));
    let replaced = harness.wait_for_audit(&order_id, "replaced").await;
    harness.let_scans_run().await;

    assert!(
        replaced.error.contains("whole lifetime is shorter"),
        "{}",
        replaced.error
    );
    assert_eq!(harness.entrust_posts("/certificates"), orders_before + 1);
    assert_eq!(harness.entrust_posts("/renewals"), 0);
    assert_eq!(harness.audit(&order_id).await.len(), 1);
    let new_order = harness
        .api
        .get(&format!("/v1/orders/{}", replaced.new_order_id))
        .await
        .unwrap();
    let planned = harness
        .wait_for_expiry(new_order["certificate_id"].as_str().unwrap())
        .await;
    let planned =
        OffsetDateTime::parse(&planned, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        planned > START + Duration::days(6),
        "the replacement renews later, not at once: {planned}"
    );
    let forecast = harness
        .renewals
        .clone()
        .get_renewal_forecast(GetRenewalForecastRequest {
            days: 30,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(forecast.len(), 1, "{forecast:?}");
    assert_eq!(forecast[0].order_id, replaced.new_order_id);
    assert_eq!(forecast[0].method, "replacement");
    assert_eq!(forecast[0].product, "STANDARD_SSL");
    let rest_forecast = harness
        .api
        .get("/v1/renewals/forecast?days=30")
        .await
        .unwrap();
    assert_eq!(
        rest_forecast["items"].as_array().unwrap().len(),
        1,
        "{rest_forecast}"
    );
    let moved = harness
        .api
        .get(&format!(
            "/v1/orders/{}/renewal-policy",
            replaced.new_order_id
        ))
        .await
        .unwrap();
    assert_eq!(moved["renewals"], 1, "{moved}");
    let (status, problem) = harness
        .api
        .call(
            Method::PUT,
            &format!("/v1/orders/{}/renewal-policy", replaced.new_order_id),
            Some(json!({ "renew_at_lifetime_percent": 150 })),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("renew_at_lifetime_percent"),
        "{problem}"
    );
    harness.system.stop().await.unwrap();
}

/// Starts a second scheduler replica in this process, on the same schema and streams.
async fn second_scheduler(
    harness: &Harness,
    shutdown: &certitude_platform::shutdown::Shutdown,
) -> certitude_renewal_scheduler::RunningService {
    let db = harness.system.renewal_db();
    let nats = &harness.system.nats.settings;
    let config = certitude_renewal_scheduler::Config::from_pairs([
        ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
        ("CERTITUDE_DB_SCHEMA", db.settings.schema.clone()),
        ("CERTITUDE_DB_MAX_CONNECTIONS", "4".to_owned()),
        ("NATS_URL", nats_url()),
        ("CERTITUDE_EVENT_STREAM", nats.stream.clone()),
        ("CERTITUDE_SUBJECT_PREFIX", nats.subject_prefix.clone()),
        (
            "CERTITUDE_DEAD_LETTER_STREAM",
            nats.dead_letter_stream.clone(),
        ),
        ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
        ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "CERTITUDE_ORDER_MANAGER_URL",
            format!("http://{}", harness.system.order_manager_grpc),
        ),
        ("CERTITUDE_RENEWAL_SCAN_INTERVAL", "200ms".to_owned()),
    ])
    .unwrap();
    certitude_renewal_scheduler::start(config, harness.clock.shared(), shutdown.clone())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_renew_each_certificate_once() {
    // 100 in the test suite; `make bench` runs the same test with 1,000.
    let certificates: usize = std::env::var("CERTITUDE_TWO_SCHEDULERS_CERTIFICATES")
        .ok()
        .map(|value| {
            value
                .parse()
                .expect("CERTITUDE_TWO_SCHEDULERS_CERTIFICATES is a count")
        })
        .unwrap_or(100);
    let harness = Harness::start().await;
    let shutdown = certitude_platform::shutdown::Shutdown::new();
    let second = second_scheduler(&harness, &shutdown).await;
    let mut orders = Vec::new();
    for index in 0..certificates {
        let order = harness
            .issued_order(&format!("host{index}.example.com"), 90)
            .await;
        harness.set_policy(policy(&order)).await;
        orders.push(order);
    }

    // The forecast pages through every planned renewal, soonest first, each once.
    let api = harness.system.api();
    let mut forecast = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = api
            .get(&format!("/v1/renewals/forecast?days=90&limit=7{cursor}"))
            .await
            .unwrap();
        forecast.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    let renew_at: Vec<OffsetDateTime> = forecast
        .iter()
        .map(|entry| parse_time(entry["renew_at"].as_str().unwrap()))
        .collect();
    let forecast_orders: std::collections::HashSet<&str> = forecast
        .iter()
        .map(|entry| entry["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(forecast.len(), certificates);
    assert_eq!(forecast_orders.len(), certificates);
    assert!(renew_at.is_sorted(), "{renew_at:?}");

    harness.clock.advance(Duration::days(70));
    let renewal_db = harness.system.renewal_db();
    let deadline = Instant::now() + StdDuration::from_secs(120 + certificates as u64 / 4);
    loop {
        let succeeded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM renewal_audit WHERE outcome = 'succeeded'")
                .fetch_one(&renewal_db.pool)
                .await
                .unwrap();
        if succeeded >= i64::try_from(certificates).unwrap() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out with {succeeded} of {certificates} certificates renewed"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    harness.let_scans_run().await;

    let per_certificate: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT certificate_id, count(*) FROM renewal_audit GROUP BY certificate_id",
    )
    .fetch_all(&renewal_db.pool)
    .await
    .unwrap();
    assert_eq!(per_certificate.len(), certificates);
    assert!(
        per_certificate.iter().all(|(_, rows)| *rows == 1),
        "{per_certificate:?}"
    );
    assert_eq!(harness.entrust_posts("/renewals"), certificates);
    shutdown.trigger();
    second.wait().await.unwrap();
    harness.system.stop().await.unwrap();
}

fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewal_planned_on_leap_day() {
    let harness = Harness::start_at(datetime!(2027-12-31 12:00 UTC)).await;
    // Entrust's expiry is the end of 2028-03-30; 31 days before is the end of 2028-02-28.
    let order = harness.issued_order("leap.example.com", 90).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    harness
        .set_policy(SetRenewalPolicyRequest {
            renew_days_before_expiry: 31,
            ..policy(&order)
        })
        .await;
    let certificate_id = order["certificate_id"].as_str().unwrap();

    let planned = parse_time(&harness.wait_for_expiry(certificate_id).await);

    assert!(planned >= datetime!(2028-02-28 23:59:59 UTC), "{planned}");
    assert!(planned <= datetime!(2028-02-29 01:00 UTC), "{planned}");
    harness.clock.set(datetime!(2028-02-28 12:00 UTC));
    harness.let_scans_run().await;
    assert!(harness.audit(&order_id).await.is_empty());

    harness.clock.set(datetime!(2028-02-29 01:00 UTC));
    let succeeded = harness.wait_for_audit(&order_id, "succeeded").await;

    assert_eq!(succeeded.attempted_at.get(..10), Some("2028-02-29"));
    harness.system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_window_across_dst_change() {
    let harness = Harness::start_at(datetime!(2028-01-25 12:00 UTC)).await;
    // Expiry at the end of 2028-04-24; 30 days before is Saturday 2028-03-25 23:59:59 UTC.
    // Berlin moves to summer time at 01:00 UTC on Sunday 2028-03-26, so the window from 01:00
    // to 04:00 local time lasts from 00:00 to 02:00 UTC that night.
    let order = harness.issued_order("dst.example.com", 90).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    harness
        .set_policy(SetRenewalPolicyRequest {
            renew_days_before_expiry: 30,
            maintenance_window: Some(MaintenanceWindow {
                days: vec!["SUN".to_owned()],
                start_hour: 1,
                end_hour: 4,
                time_zone: "Europe/Berlin".to_owned(),
            }),
            ..policy(&order)
        })
        .await;
    let certificate_id = order["certificate_id"].as_str().unwrap();

    let planned = parse_time(&harness.wait_for_expiry(certificate_id).await);

    assert!(planned >= datetime!(2028-03-26 00:00 UTC), "{planned}");
    assert!(planned < datetime!(2028-03-26 02:00 UTC), "{planned}");
    harness.clock.set(datetime!(2028-03-25 23:30 UTC));
    harness.let_scans_run().await;
    assert!(harness.audit(&order_id).await.is_empty());

    harness.clock.set(datetime!(2028-03-26 01:59 UTC));
    let succeeded = harness.wait_for_audit(&order_id, "succeeded").await;

    let attempted = parse_time(&succeeded.attempted_at);
    assert!(attempted >= datetime!(2028-03-26 00:00 UTC), "{attempted}");
    assert!(attempted < datetime!(2028-03-26 02:00 UTC), "{attempted}");
    harness.system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleted_order_policy_is_disabled() {
    let harness = Harness::start().await;
    let order = harness.issued_order("deleted.example.com", 90).await;
    let order_id = order["id"].as_str().unwrap().to_owned();
    harness.set_policy(policy(&order)).await;

    let (status, deleted) = harness
        .api
        .call(
            Method::DELETE,
            &format!("/v1/orders/{order_id}"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let deadline = Deadline::start();
    let disabled = loop {
        let policy = harness
            .renewals
            .clone()
            .get_renewal_policy(GetRenewalPolicyRequest {
                order_id: order_id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        if !policy.enabled {
            break policy;
        }
        deadline
            .wait("the deleted order's policy is disabled")
            .await;
    };
    harness.clock.advance(Duration::days(80));
    harness.let_scans_run().await;

    assert!(
        disabled.actor.contains("order deleted"),
        "{}",
        disabled.actor
    );
    assert_eq!(harness.entrust_posts("/renewals"), 0);
    assert!(harness.audit(&order_id).await.is_empty());
    let forecast = harness
        .api
        .get("/v1/renewals/forecast?days=400")
        .await
        .unwrap();
    assert_eq!(forecast["items"].as_array().unwrap().len(), 0, "{forecast}");
    harness.system.stop().await.unwrap();
}
