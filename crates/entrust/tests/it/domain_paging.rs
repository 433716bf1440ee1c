//! Walking `GET /domains` page by page against a scripted server whose list may change
//! between requests: the walk returns each domain once and always ends.

use std::sync::{Arc, Mutex, PoisonError};

use entrust::model::DomainVerificationStatus;
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TEST_API_KEY, TEST_USER, client};

const BASE: &str = "/enterprise/v2";
/// The adapter's domain page size.
const PAGE: usize = 250;

/// How the scripted list behaves between requests.
#[derive(Clone, Copy)]
enum Script {
    /// The list stays as it is.
    Stable,
    /// After each request, one more domain is appended (the total grows during the walk).
    GrowEachRequest,
    /// After the first request, the first 10 domains are removed (the total shrinks).
    ShrinkAfterFirst,
    /// Every request returns the first page, whatever the offset.
    IgnoreOffset,
}

struct DomainList {
    names: Mutex<Vec<String>>,
    requests: Mutex<u32>,
    script: Script,
}

impl DomainList {
    fn new(count: usize, script: Script) -> Arc<Self> {
        Arc::new(Self {
            names: Mutex::new((0..count).map(name).collect()),
            requests: Mutex::new(0),
            script,
        })
    }

    fn requests(&self) -> u32 {
        *self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn name(index: usize) -> String {
    format!("d{index:05}.example.com")
}

fn query_number(request: &Request, key: &str) -> usize {
    request
        .url
        .query_pairs()
        .find(|(name, _)| name == key)
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

struct Serve(Arc<DomainList>);

impl Respond for Serve {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let list = &self.0;
        let offset = match list.script {
            Script::IgnoreOffset => 0,
            _ => query_number(request, "offset"),
        };
        let limit = query_number(request, "limit");
        let mut names = list.names.lock().unwrap_or_else(PoisonError::into_inner);
        let page: Vec<_> = names
            .iter()
            .skip(offset)
            .take(limit)
            .map(
                |name| json!({"domainName": name, "verificationStatus": "APPROVED", "clientId": 1}),
            )
            .collect();
        let body = json!({
            "summary": {"offset": offset, "limit": limit, "total": names.len()},
            "domains": page,
        });
        let mut requests = list.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests += 1;
        match list.script {
            Script::GrowEachRequest => {
                let next = names.len();
                names.push(name(next));
            }
            Script::ShrinkAfterFirst if *requests == 1 => {
                names.drain(..10);
            }
            _ => {}
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

async fn walk_domains(list: &Arc<DomainList>) -> anyhow::Result<Vec<String>> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{BASE}/domains")))
        .respond_with(Serve(list.clone()))
        .mount(&server)
        .await;
    let client = client(&format!("{}{BASE}", server.uri()), TEST_USER, TEST_API_KEY)?;

    let domains = client
        .domain_stream()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    assert!(
        domains
            .iter()
            .all(|domain| domain.verification_status == DomainVerificationStatus::Approved)
    );
    Ok(domains.into_iter().map(|domain| domain.name).collect())
}

fn assert_unique(names: &[String]) {
    let mut sorted = names.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "a domain was returned twice");
}

#[tokio::test]
async fn exactly_full_last_page_needs_no_extra_request() -> anyhow::Result<()> {
    let list = DomainList::new(2 * PAGE, Script::Stable);

    let names = walk_domains(&list).await?;

    assert_eq!(names.len(), 2 * PAGE);
    assert_unique(&names);
    assert_eq!(list.requests(), 2);
    Ok(())
}

#[tokio::test]
async fn empty_account_takes_one_request() -> anyhow::Result<()> {
    let list = DomainList::new(0, Script::Stable);

    let names = walk_domains(&list).await?;

    assert!(names.is_empty());
    assert_eq!(list.requests(), 1);
    Ok(())
}

#[tokio::test]
async fn growing_total_still_ends_with_each_domain_once() -> anyhow::Result<()> {
    let list = DomainList::new(PAGE + 10, Script::GrowEachRequest);

    let names = walk_domains(&list).await?;

    assert_unique(&names);
    assert!(names.len() >= PAGE + 10, "{} domains", names.len());
    assert!(list.requests() <= 4, "{} requests", list.requests());
    Ok(())
}

#[tokio::test]
async fn shrinking_total_ends_without_duplicates() -> anyhow::Result<()> {
    let list = DomainList::new(3 * PAGE, Script::ShrinkAfterFirst);

    let names = walk_domains(&list).await?;

    assert_unique(&names);
    // The removal shifts 10 domains from the second page onto the first, which was read
    // already, so those 10 are missed; everything else arrives once.
    assert_eq!(names.len(), 3 * PAGE - 10);
    assert_eq!(list.requests(), 3);
    Ok(())
}

#[tokio::test]
async fn server_ignoring_offset_cannot_loop_forever() -> anyhow::Result<()> {
    let list = DomainList::new(3 * PAGE, Script::IgnoreOffset);

    let names = walk_domains(&list).await?;

    assert_eq!(names.len(), PAGE);
    assert_unique(&names);
    assert_eq!(list.requests(), 2);
    Ok(())
}
