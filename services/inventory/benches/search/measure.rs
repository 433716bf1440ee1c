//! A filtered, sorted page of ListCertificates through the inventory's gRPC API, measured next
//! to the same SQL run directly on the same table.
//!
//! The inventory starts in process on a fresh schema of the local Postgres and fresh NATS
//! streams, with a manual clock stopped at [`NOW`]. The certificates table is then filled in
//! bulk with `INSERT ... SELECT generate_series`, not through the API: each row has the columns
//! ingest writes, with generated names, issuers, key types, sources, credentials, statuses and
//! validity, and the PEM of one of two real template certificates (RSA and EC) made with rcgen.
//! The template's names do not match the row's, which the listing never checks. After `ANALYZE`
//! and a recount of the license, every query template runs once on each side as a warm-up.
//!
//! Then the requests run round-robin over [`templates`], a third of them on the second page
//! (with the page token of the first). Each request is timed on both sides back to back: the
//! gRPC side is the tonic client's ListCertificates call, which validates the request, runs the
//! query, converts the rows and encodes the response; the SQL side is the query
//! [`search::page_query`] builds for the same request, run with sqlx on a pool of the same role
//! as an unnamed statement (as the service runs it), fetching the same rows without decoding
//! them.
//!
//! Shared by the `search` benchmark and its smoke test in `tests/bench_smoke.rs`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use certitude_inventory::grpc::validate_list;
use certitude_inventory::{Config, license, search};
use certitude_platform::clock::ManualClock;
use certitude_platform::seal::{KeyId, MasterKey};
use certitude_platform::shutdown::Shutdown;
use certitude_platform::testing::{TestDb, TestNats, nats_url};
use certitude_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use certitude_proto::inventory::v1::{CertificateSort, ListCertificatesRequest, SortOrder};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::macros::datetime;
use tonic::transport::Channel;

/// The instant both sides judge expiry and status at.
pub const NOW: OffsetDateTime = datetime!(2030-06-01 12:00:00 UTC);

/// Certificates per page, the API's default.
pub const PAGE_SIZE: u32 = 50;

/// Rows inserted per statement, each in its own transaction.
const LOAD_BATCH: u64 = 50_000;

/// Credential ids of the generated rows that came with an order.
pub const CREDENTIALS: [&str; 5] = [
    "0191d2a0-0000-7000-8000-00000000c001",
    "0191d2a0-0000-7000-8000-00000000c002",
    "0191d2a0-0000-7000-8000-00000000c003",
    "0191d2a0-0000-7000-8000-00000000c004",
    "0191d2a0-0000-7000-8000-00000000c005",
];

/// How many rows and requests to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 10,000 rows and 45 requests, to prove the benchmark still works.
    Small,
    /// 1,000,000 rows and 300 requests.
    Full,
}

impl Scale {
    /// Reads `CERTITUDE_BENCH_SCALE` (`small` or `full`), or returns `default` when unset.
    pub fn from_env(default: Scale) -> Result<Scale, String> {
        match std::env::var("CERTITUDE_BENCH_SCALE") {
            Err(_) => Ok(default),
            Ok(value) if value.eq_ignore_ascii_case("small") => Ok(Scale::Small),
            Ok(value) if value.eq_ignore_ascii_case("full") => Ok(Scale::Full),
            Ok(value) => Err(format!(
                "CERTITUDE_BENCH_SCALE={value:?} is invalid: use small or full"
            )),
        }
    }

    pub fn rows(self) -> u64 {
        match self {
            Scale::Small => 10_000,
            Scale::Full => 1_000_000,
        }
    }

    /// Timed requests per side.
    pub fn requests(self) -> usize {
        match self {
            Scale::Small => 45,
            Scale::Full => 300,
        }
    }
}

/// One kind of request of the mix.
#[derive(Debug, Clone)]
pub struct Template {
    pub label: &'static str,
    pub request: ListCertificatesRequest,
}

/// Returns the request mix: text, issuer, status, expiry, key type, source and credential
/// filters, alone and combined, over every sort.
pub fn templates() -> Vec<Template> {
    let request = ListCertificatesRequest {
        page_size: PAGE_SIZE,
        ..ListCertificatesRequest::default()
    };
    let sorted = |sort: CertificateSort, order: SortOrder| ListCertificatesRequest {
        sort: sort.into(),
        order: order.into(),
        ..request.clone()
    };
    vec![
        Template {
            label: "no filter, newest first",
            request: request.clone(),
        },
        Template {
            label: "query \"payments\" (5% of rows), by not_after",
            request: ListCertificatesRequest {
                query: "payments".to_owned(),
                ..sorted(CertificateSort::NotAfter, SortOrder::Ascending)
            },
        },
        Template {
            label: "query \"shop-1234\" (rare), newest first",
            request: ListCertificatesRequest {
                query: "shop-1234".to_owned(),
                ..request.clone()
            },
        },
        Template {
            label: "query \"contoso\" and issuer \"DigiCert\" (1% of rows), by common name",
            request: ListCertificatesRequest {
                query: "contoso".to_owned(),
                issuer: "DigiCert".to_owned(),
                ..sorted(CertificateSort::CommonName, SortOrder::Ascending)
            },
        },
        Template {
            label: "query \"contoso\", RSA, expiring within 90 days, by not_after",
            request: ListCertificatesRequest {
                query: "contoso".to_owned(),
                key_type: "RSA".to_owned(),
                expiring_within_days: Some(90),
                ..sorted(CertificateSort::NotAfter, SortOrder::Ascending)
            },
        },
        Template {
            label: "issuer \"L1K\", active, by common name",
            request: ListCertificatesRequest {
                issuer: "L1K".to_owned(),
                status: vec!["active".to_owned()],
                ..sorted(CertificateSort::CommonName, SortOrder::Ascending)
            },
        },
        Template {
            label: "expiring within 30 days, by not_after",
            request: ListCertificatesRequest {
                expiring_within_days: Some(30),
                ..sorted(CertificateSort::NotAfter, SortOrder::Ascending)
            },
        },
        Template {
            label: "expiring within 30 days, EC, active, newest first",
            request: ListCertificatesRequest {
                expiring_within_days: Some(30),
                key_type: "EC".to_owned(),
                status: vec!["active".to_owned()],
                ..request.clone()
            },
        },
        Template {
            label: "one credential, newest first",
            request: ListCertificatesRequest {
                credential_id: CREDENTIALS[2].to_owned(),
                ..request.clone()
            },
        },
        Template {
            label: "imported, latest not_after first",
            request: ListCertificatesRequest {
                source: "import".to_owned(),
                ..sorted(CertificateSort::NotAfter, SortOrder::Descending)
            },
        },
        Template {
            label: "revoked or suspended, oldest first",
            request: ListCertificatesRequest {
                status: vec!["revoked".to_owned(), "suspended".to_owned()],
                ..sorted(CertificateSort::CreatedAt, SortOrder::Ascending)
            },
        },
        Template {
            label: "expired, latest not_after first",
            request: ListCertificatesRequest {
                status: vec!["expired".to_owned()],
                ..sorted(CertificateSort::NotAfter, SortOrder::Descending)
            },
        },
        Template {
            label: "RSA, by common name descending",
            request: ListCertificatesRequest {
                key_type: "RSA".to_owned(),
                ..sorted(CertificateSort::CommonName, SortOrder::Descending)
            },
        },
        Template {
            label: "waiting certificates",
            request: ListCertificatesRequest {
                inventory_state: "waiting".to_owned(),
                ..request.clone()
            },
        },
        Template {
            label: "superseded, by not_after",
            request: ListCertificatesRequest {
                status: vec!["superseded".to_owned()],
                ..sorted(CertificateSort::NotAfter, SortOrder::Ascending)
            },
        },
    ]
}

/// Durations of one side.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub durations: Vec<Duration>,
}

impl Side {
    /// Returns the `q`-quantile (0.0 to 1.0) by the nearest-rank method.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// Measurements of one template.
#[derive(Debug, Clone)]
pub struct TemplateReport {
    pub label: &'static str,
    pub grpc: Side,
    pub sql: Side,
    /// Certificates the first page listed.
    pub first_page_rows: usize,
}

/// The measurements of one benchmark run.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: u64,
    pub load: Duration,
    pub grpc: Side,
    pub sql: Side,
    pub templates: Vec<TemplateReport>,
}

/// Runs the benchmark at `scale` and returns its measurements.
pub async fn run(scale: Scale) -> anyhow::Result<Report> {
    let service = BenchService::start().await?;
    let result = measure(scale, &service).await;
    service.stop().await?;
    result
}

async fn measure(scale: Scale, service: &BenchService) -> anyhow::Result<Report> {
    let started = Instant::now();
    load(&service.db.pool, scale.rows()).await?;
    let load = started.elapsed();
    let direct = service.db.connect_again().await;

    let templates = templates();
    let mut reports: Vec<TemplateReport> = Vec::with_capacity(templates.len());
    let mut second_pages = Vec::with_capacity(templates.len());
    for template in &templates {
        // The warm-up also takes the page token of each template's second page.
        let first = service.list(template.request.clone()).await?;
        run_sql(&direct, &template.request).await?;
        second_pages.push(ListCertificatesRequest {
            page_token: first.next_page_token.clone(),
            ..template.request.clone()
        });
        reports.push(TemplateReport {
            label: template.label,
            grpc: Side::default(),
            sql: Side::default(),
            first_page_rows: first.certificates.len(),
        });
    }

    let mut grpc = Side::default();
    let mut sql = Side::default();
    for index in 0..scale.requests() {
        let slot = index % templates.len();
        let round = index / templates.len();
        // Every third round requests the second page.
        let request = if round % 3 == 2 && !second_pages[slot].page_token.is_empty() {
            &second_pages[slot]
        } else {
            &templates[slot].request
        };

        let started = Instant::now();
        service.list(request.clone()).await?;
        let grpc_time = started.elapsed();
        let started = Instant::now();
        run_sql(&direct, request).await?;
        let sql_time = started.elapsed();

        grpc.durations.push(grpc_time);
        sql.durations.push(sql_time);
        reports[slot].grpc.durations.push(grpc_time);
        reports[slot].sql.durations.push(sql_time);
    }
    direct.close().await;
    Ok(Report {
        rows: scale.rows(),
        load,
        grpc,
        sql,
        templates: reports,
    })
}

/// Runs the query that ListCertificates runs for `request`, fetching the rows undecoded.
async fn run_sql(pool: &PgPool, request: &ListCertificatesRequest) -> anyhow::Result<usize> {
    let query = validate_list(request.clone()).map_err(|status| {
        anyhow::anyhow!("the benchmark request is invalid: {}", status.message())
    })?;
    let rows = search::page_query(
        &query.filter,
        query.sort,
        query.after.as_ref(),
        NOW,
        query.page_size + 1,
    )
    .build()
    .persistent(false)
    .fetch_all(pool)
    .await?;
    Ok(rows.len())
}

/// Template certificates in PEM: an RSA and an EC leaf, and their issuer.
struct Templates {
    rsa_pem: String,
    ec_pem: String,
    issuer_pem: String,
}

fn template_certificates() -> anyhow::Result<Templates> {
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Bench Issuing CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let leaf = |key: &KeyPair| -> anyhow::Result<String> {
        let mut params = CertificateParams::new(vec![
            "template.example.com".to_owned(),
            "www.template.example.com".to_owned(),
        ])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "template.example.com");
        Ok(params.signed_by(key, &issuer)?.pem())
    };
    let rsa_key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?;
    let ec_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    Ok(Templates {
        rsa_pem: leaf(&rsa_key)?,
        ec_pem: leaf(&ec_key)?,
        issuer_pem: issuer.pem(),
    })
}

/// Inserts `rows` generated certificates in batches, then analyzes the table and recounts the
/// license.
///
/// Row `n` gets: a host name `<service>-<n>.<department>.<company>` as common name (none for 2%
/// of rows) and 1 to 4 DNS names; one of six issuers (Entrust L1K 40%, L1M 20%, OV TLS 15%,
/// DigiCert 10%, Sectigo 10%, Let's Encrypt 5%); RSA for 70%, EC for 30%; `not_after` spread
/// over one year before to two years after [`NOW`]; created over the three years before
/// [`NOW`] in order of `n`; source `import` for 20% (without credential), else `order` with one
/// of five credentials; status revoked 3%, suspended 1%, superseded 2%, else active; and
/// inventory state waiting for 0.2%, removed for 0.1%, else held.
pub async fn load(pool: &PgPool, rows: u64) -> anyhow::Result<()> {
    let templates = template_certificates()?;
    let mut start = 0;
    while start < rows {
        let end = (start + LOAD_BATCH).min(rows);
        sqlx::query(GENERATE_ROWS)
            .bind(i64::try_from(start)?)
            .bind(i64::try_from(end - 1)?)
            .bind(i64::try_from(rows)?)
            .bind(NOW)
            .bind(&templates.rsa_pem)
            .bind(&templates.ec_pem)
            .bind(&templates.issuer_pem)
            .bind(CREDENTIALS.map(str::to_owned).to_vec())
            .execute(pool)
            .await
            .with_context(|| format!("inserting rows {start} to {end} failed"))?;
        start = end;
        if rows >= 100_000 {
            eprintln!("loaded {end} of {rows} rows");
        }
    }
    sqlx::query("ANALYZE certificates").execute(pool).await?;
    let mut conn = pool.acquire().await?;
    let held = license::recount(&mut conn).await?;
    if held <= 0 {
        bail!("the load left no held certificate");
    }
    Ok(())
}

/// Inserts rows `$1` to `$2` of `$3` (see [`load`]). `$4` is now, `$5` and `$6` the RSA and EC
/// template PEM, `$7` their issuer's PEM, `$8` the credential ids. Each attribute is drawn from
/// its own hash of `n` (`hashint8extended` with a seed per attribute), so attributes are
/// independent of each other and of the sort orders.
const GENERATE_ROWS: &str = "
WITH numbered AS (
    SELECT n,
           (hashint8extended(n, 1) & 2147483647) % 20 AS issuer_draw,
           (hashint8extended(n, 2) & 2147483647) % 10 AS key_draw,
           (hashint8extended(n, 3) & 2147483647) % 5 AS source_draw,
           (hashint8extended(n, 4) & 2147483647) % 100 AS status_draw,
           (hashint8extended(n, 5) & 2147483647) % 1000 AS state_draw,
           (hashint8extended(n, 6) & 2147483647) % 50 AS name_draw,
           (hashint8extended(n, 7) & 2147483647) % (1095 * 86400) AS expiry_draw,
           (ARRAY['www', 'api', 'mail', 'shop', 'vpn', 'portal', 'login', 'cdn', 'app',
                  'intranet'])[1 + ((hashint8extended(n, 8) & 2147483647) % 10)::int]
               || '-' || n AS host,
           (ARRAY['payments', 'billing', 'hr', 'sales', 'support', 'research', 'ops',
                  'marketing', 'legal', 'finance', 'it', 'security', 'logistics', 'retail',
                  'partners', 'media', 'labs', 'devices', 'identity', 'data'])
               [1 + ((hashint8extended(n, 9) & 2147483647) % 20)::int] AS department,
           (ARRAY['example.com', 'acme.org', 'contoso.net', 'globex.io', 'initech.co.uk',
                  'umbrella.de', 'hooli.com', 'stark.fr', 'wayne.ch', 'tyrell.jp'])
               [1 + ((hashint8extended(n, 10) & 2147483647) % 10)::int] AS company,
           1 + ((hashint8extended(n, 11) & 2147483647) % 5)::int AS credential_draw
    FROM generate_series($1::bigint, $2::bigint) AS n
), facts AS (
    SELECT numbered.*,
           host || '.' || department || '.' || company AS name,
           CASE WHEN name_draw = 0 THEN NULL
                ELSE host || '.' || department || '.' || company END AS common_name,
           CASE
               WHEN issuer_draw < 2
                   THEN 'CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US'
               WHEN issuer_draw < 4
                   THEN 'CN=Sectigo RSA Domain Validation Secure Server CA, O=Sectigo Limited, C=GB'
               WHEN issuer_draw < 5 THEN 'CN=R3, O=Let''s Encrypt, C=US'
               WHEN issuer_draw < 8
                   THEN 'CN=Entrust OV TLS Issuing RSA CA 1, O=Entrust, Inc., C=US'
               WHEN issuer_draw < 12
                   THEN 'CN=Entrust Certification Authority - L1M, O=Entrust, Inc., C=US'
               ELSE 'CN=Entrust Certification Authority - L1K, O=Entrust, Inc., C=US'
           END AS issuer,
           key_draw < 7 AS rsa,
           source_draw = 1 AS imported,
           $4::timestamptz - interval '365 days'
               + make_interval(secs => expiry_draw::double precision) AS not_after,
           $4::timestamptz - make_interval(
               secs => ((($3::bigint - n) * 94608000) / $3::bigint)::double precision)
               AS created_at
    FROM numbered
)
INSERT INTO certificates (
    id, order_id, tracking_id, credential_id, key_id, replaces_certificate_id, subject,
    common_name, dns_names, issuer, serial_number, not_before, not_after, key_type, key_bits,
    signature_algorithm, sha256_fingerprint, certificate_pem, chain_pem, chain_status, status,
    source, created_at, replacement, superseded_by, superseded_at, inventory_state,
    waiting_reason, waiting_message, admitted_at)
SELECT md5('certificate-' || n)::uuid,
       CASE WHEN imported THEN NULL ELSE md5('order-' || n)::uuid::text END,
       CASE WHEN imported THEN NULL ELSE 1000000 + n END,
       CASE WHEN imported THEN NULL ELSE ($8::text[])[credential_draw] END,
       NULL, NULL,
       'CN=' || coalesce(common_name, name) || ', O=' || initcap(split_part(company, '.', 1)),
       common_name,
       CASE n % 4
           WHEN 0 THEN ARRAY[name]
           WHEN 1 THEN ARRAY[name, 'www.' || name]
           WHEN 2 THEN ARRAY[name, 'www.' || name, department || '.' || company]
           ELSE ARRAY[name, 'www.' || name, 'alt-' || n || '.' || company, company]
       END,
       issuer,
       upper(to_hex(n + 4096)),
       not_after - CASE WHEN n % 3 = 0 THEN interval '199 days' ELSE interval '397 days' END,
       not_after,
       CASE WHEN rsa THEN 'RSA' ELSE 'EC' END,
       CASE WHEN rsa THEN (ARRAY[2048, 2048, 3072, 4096])[1 + (n % 4)::int] ELSE 256 END,
       CASE WHEN rsa THEN '1.2.840.113549.1.1.11' ELSE '1.2.840.10045.4.3.2' END,
       upper(encode(sha256(convert_to('certificate-' || n, 'UTF8')), 'hex')),
       CASE WHEN rsa THEN $5 ELSE $6 END,
       ARRAY[$7],
       'verified',
       CASE WHEN status_draw < 3 THEN 'revoked'
            WHEN status_draw = 3 THEN 'suspended'
            WHEN status_draw IN (4, 5) THEN 'superseded'
            ELSE 'active' END,
       CASE WHEN imported THEN 'import' ELSE 'order' END,
       created_at,
       NULL,
       CASE WHEN status_draw IN (4, 5) THEN md5('successor-' || n)::uuid END,
       CASE WHEN status_draw IN (4, 5) THEN created_at + interval '300 days' END,
       CASE WHEN state_draw IN (11, 12) THEN 'waiting'
            WHEN state_draw = 13 THEN 'removed'
            ELSE 'held' END,
       CASE WHEN state_draw IN (11, 12) THEN 'license_limit' END,
       CASE WHEN state_draw IN (11, 12) THEN 'waits for a license slot' END,
       CASE WHEN state_draw IN (11, 12) THEN NULL ELSE created_at END
FROM facts";

/// The inventory started on its own schema and streams, with the clock stopped at [`NOW`].
struct BenchService {
    client: InventoryServiceClient<Channel>,
    db: TestDb,
    nats: TestNats,
    shutdown: Shutdown,
    running: certitude_inventory::RunningService,
}

impl BenchService {
    async fn start() -> anyhow::Result<Self> {
        let db = TestDb::new().await;
        let nats = TestNats::new().await;
        let master_key = MasterKey::generate(KeyId::parse("bench")?)?;
        let master_keys = master_key.to_config_entry();
        let config = Config::from_pairs([
            ("DATABASE_URL", db.settings.url.expose_secret().to_owned()),
            ("CERTITUDE_DB_SCHEMA", db.service.schema.clone()),
            ("NATS_URL", nats_url()),
            ("CERTITUDE_EVENT_STREAM", nats.settings.stream.clone()),
            (
                "CERTITUDE_SUBJECT_PREFIX",
                nats.settings.subject_prefix.clone(),
            ),
            (
                "CERTITUDE_DEAD_LETTER_STREAM",
                nats.settings.dead_letter_stream.clone(),
            ),
            ("CERTITUDE_GRPC_LISTEN", "127.0.0.1:0".to_owned()),
            ("CERTITUDE_HTTP_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CERTITUDE_MASTER_KEYS",
                master_keys.expose_secret().to_owned(),
            ),
        ])?;
        let shutdown = Shutdown::new();
        let clock = ManualClock::new(NOW);
        let running = certitude_inventory::start(config, clock.shared(), shutdown.clone()).await?;
        let client =
            InventoryServiceClient::connect(format!("http://{}", running.grpc_addr)).await?;
        Ok(Self {
            client,
            db,
            nats,
            shutdown,
            running,
        })
    }

    async fn list(
        &self,
        request: ListCertificatesRequest,
    ) -> anyhow::Result<certitude_proto::inventory::v1::ListCertificatesResponse> {
        let response = self
            .client
            .clone()
            .list_certificates(request)
            .await
            .map_err(|status| anyhow::anyhow!("ListCertificates failed: {status}"))?;
        Ok(response.into_inner())
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        self.running.wait().await?;
        self.nats.delete_streams().await;
        self.db.drop_now().await;
        Ok(())
    }
}
