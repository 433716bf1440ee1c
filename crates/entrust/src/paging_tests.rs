use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use futures::future::ready;

use super::*;

/// An in-memory list served page by page; `after_fetch` may change it between requests.
struct FakeList {
    items: Vec<u32>,
    fetches: u32,
    report_total: bool,
    ignore_offset: bool,
    fail_on_fetch: Option<u32>,
    after_fetch: fn(&mut FakeList),
}

impl FakeList {
    fn new(items: impl IntoIterator<Item = u32>) -> Self {
        Self {
            items: items.into_iter().collect(),
            fetches: 0,
            report_total: true,
            ignore_offset: false,
            fail_on_fetch: None,
            after_fetch: |_| {},
        }
    }

    fn page(&mut self, offset: u64, limit: u32) -> Result<Page<u32>, Error> {
        self.fetches += 1;
        if self.fail_on_fetch == Some(self.fetches) {
            return Err(Error::Unavailable {
                endpoint: "GET /test",
                status: Some(503),
                retry_after: None,
                messages: Default::default(),
                source: None,
            });
        }
        let start = if self.ignore_offset {
            0
        } else {
            usize::try_from(offset).unwrap_or(usize::MAX)
        };
        let items: Vec<u32> = self
            .items
            .iter()
            .skip(start)
            .take(limit as usize)
            .copied()
            .collect();
        let page = Page {
            received: items.len() as u64,
            items,
            total: self.report_total.then_some(self.items.len() as u64),
        };
        (self.after_fetch)(self);
        Ok(page)
    }
}

async fn collect(list: FakeList, limit: u32) -> (Vec<Result<u32, Error>>, u32) {
    let list = Arc::new(Mutex::new(list));
    let server = Arc::clone(&list);
    let results: Vec<Result<u32, Error>> = walk("GET /test", limit, |item: &u32| *item, {
        move |offset, limit| {
            let page = server
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .page(offset, limit);
            ready(page)
        }
    })
    .collect()
    .await;
    let fetches = list.lock().unwrap_or_else(PoisonError::into_inner).fetches;
    (results, fetches)
}

fn values(results: &[Result<u32, Error>]) -> Vec<u32> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect()
}

#[tokio::test]
async fn empty_account_yields_nothing_after_one_request() {
    let (results, fetches) = collect(FakeList::new([]), 10).await;

    assert!(results.is_empty());
    assert_eq!(fetches, 1);
}

#[tokio::test]
async fn exactly_full_last_page_needs_no_extra_request() {
    let (results, fetches) = collect(FakeList::new(1..=4), 2).await;

    assert_eq!(values(&results), vec![1, 2, 3, 4]);
    assert_eq!(fetches, 2);
}

#[tokio::test]
async fn short_pages_without_total_end_the_walk() {
    let mut list = FakeList::new(1..=5);
    list.report_total = false;

    let (results, fetches) = collect(list, 2).await;

    assert_eq!(values(&results), vec![1, 2, 3, 4, 5]);
    assert_eq!(fetches, 3);
}

#[tokio::test]
async fn full_last_page_without_total() {
    let mut list = FakeList::new(1..=4);
    list.report_total = false;

    let (results, fetches) = collect(list, 2).await;

    assert_eq!(values(&results), vec![1, 2, 3, 4]);
    assert_eq!(fetches, 3);
}

#[tokio::test]
async fn total_growing_mid_walk_includes_new_items() {
    let mut list = FakeList::new(1..=5);
    list.after_fetch = |list| {
        if list.fetches == 1 {
            list.items.extend([6, 7]);
        }
    };

    let (results, _) = collect(list, 2).await;

    assert_eq!(values(&results), vec![1, 2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn item_inserted_before_offset_is_not_returned_twice() {
    let mut list = FakeList::new([10, 20, 30, 40]);
    list.after_fetch = |list| {
        if list.fetches == 1 {
            list.items.insert(0, 5);
        }
    };

    let (results, _) = collect(list, 2).await;

    // 20 shifts onto the second page but is yielded once; 5 lies behind the offset.
    assert_eq!(values(&results), vec![10, 20, 30, 40]);
}

#[tokio::test]
async fn total_shrinking_mid_walk_terminates() {
    let mut list = FakeList::new(1..=6);
    list.after_fetch = |list| {
        if list.fetches == 1 {
            list.items.truncate(3);
        }
    };

    let (results, fetches) = collect(list, 2).await;

    assert_eq!(values(&results), vec![1, 2, 3]);
    assert_eq!(fetches, 2);
}

#[tokio::test]
async fn server_ignoring_offset_stops_on_repeated_page() {
    let mut list = FakeList::new(1..=10);
    list.ignore_offset = true;

    let (results, fetches) = collect(list, 3).await;

    assert_eq!(values(&results), vec![1, 2, 3]);
    assert_eq!(fetches, 2);
}

#[tokio::test]
async fn endlessly_growing_total_is_capped() {
    let mut list = FakeList::new(1..=4);
    list.after_fetch = |list| {
        let next = list.items.len() as u32 + 1;
        list.items.extend([next, next + 1]);
    };

    let (results, fetches) = collect(list, 2).await;

    // The first total (4) needs 2 pages: the cap is 2 * 2 + 10 pages.
    assert_eq!(fetches, 14);
    assert_eq!(values(&results).len(), 28);
}

#[tokio::test]
async fn error_mid_walk_is_yielded_last() {
    let mut list = FakeList::new(1..=6);
    list.fail_on_fetch = Some(2);

    let (results, fetches) = collect(list, 2).await;

    assert_eq!(values(&results), vec![1, 2]);
    assert_eq!(results.len(), 3);
    assert!(matches!(
        results.last(),
        Some(Err(Error::Unavailable {
            status: Some(503),
            ..
        }))
    ));
    assert_eq!(fetches, 2);
}
