//! Offset paging over ECS list endpoints as a stream of items.
//!
//! ECS pages with `offset` (index of the first item) and `limit`, and reports `summary.total`.
//! The walk advances the offset by the number of items received, because the server may cap
//! `limit` below the requested size. It ends when:
//! - the offset reaches the latest `total` (a last page that is exactly full needs no extra
//!   request);
//! - a page is empty (an empty account, or a `total` that shrank during the walk);
//! - without a `total`, a page is shorter than the limit;
//! - a page repeats the previous one (a server that ignores `offset`);
//! - the page count exceeds twice what the first `total` needs, plus a margin, so a `total`
//!   that keeps growing cannot keep the walk going forever.
//!
//! Items already yielded are skipped, so an item that shifts across a page boundary while the
//! account changes is not returned twice.

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;

use futures::stream::{self, BoxStream, StreamExt};

use crate::error::Error;

/// Extra pages allowed beyond twice the pages the first `total` needs.
const PAGE_MARGIN: u64 = 10;

/// Page limit when the server reports no `total`.
const MAX_PAGES_WITHOUT_TOTAL: u64 = 10_000;

/// One fetched page.
#[derive(Debug)]
pub(crate) struct Page<T> {
    /// Converted items; records too incomplete to convert are already dropped.
    pub items: Vec<T>,
    /// Number of records in the response, converted or not; the offset advances by this.
    pub received: u64,
    /// `summary.total`, when reported.
    pub total: Option<u64>,
}

struct Walk<F, K> {
    fetch: F,
    endpoint: &'static str,
    limit: u32,
    offset: u64,
    pages: u64,
    /// Set from the first response: twice the pages its `total` needs plus a margin, or
    /// [`MAX_PAGES_WITHOUT_TOTAL`].
    max_pages: Option<u64>,
    previous_keys: Option<Vec<K>>,
    seen: HashSet<K>,
    finished: bool,
}

/// Walks every page that `fetch(offset, limit)` returns and yields the items one by one.
///
/// `key` identifies an item for duplicate and repeated-page detection. After an error the
/// stream yields that error and ends.
pub(crate) fn walk<'a, T, K, F, Fut>(
    endpoint: &'static str,
    limit: u32,
    key: fn(&T) -> K,
    fetch: F,
) -> BoxStream<'a, Result<T, Error>>
where
    T: Send + 'a,
    K: Eq + Hash + Clone + Send + 'a,
    F: FnMut(u64, u32) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    let state = Walk {
        fetch,
        endpoint,
        limit: limit.max(1),
        offset: 0,
        pages: 0,
        max_pages: None,
        previous_keys: None,
        seen: HashSet::new(),
        finished: false,
    };
    stream::unfold(state, move |mut state| async move {
        let items = next_page(&mut state, key).await?;
        Some((items, state))
    })
    .flat_map(stream::iter)
    .boxed()
}

/// Fetches the next page; `None` ends the walk.
async fn next_page<T, K, F, Fut>(
    state: &mut Walk<F, K>,
    key: fn(&T) -> K,
) -> Option<Vec<Result<T, Error>>>
where
    K: Eq + Hash + Clone,
    F: FnMut(u64, u32) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    if state.finished {
        return None;
    }
    if state
        .max_pages
        .is_some_and(|max_pages| state.pages >= max_pages)
    {
        tracing::warn!(
            entrust.endpoint = state.endpoint,
            pages = state.pages,
            offset = state.offset,
            "stopping an Entrust list walk: more pages than the reported total allows"
        );
        return None;
    }
    let page = match (state.fetch)(state.offset, state.limit).await {
        Ok(page) => page,
        Err(error) => {
            state.finished = true;
            return Some(vec![Err(error)]);
        }
    };
    state.pages += 1;
    if page.received == 0 {
        return None;
    }

    let keys: Vec<K> = page.items.iter().map(key).collect();
    if !keys.is_empty() && state.previous_keys.as_ref() == Some(&keys) {
        tracing::warn!(
            entrust.endpoint = state.endpoint,
            offset = state.offset,
            "stopping an Entrust list walk: the server returned the same page twice"
        );
        return None;
    }

    state.offset += page.received;
    state.finished = match page.total {
        Some(total) => state.offset >= total,
        None => page.received < u64::from(state.limit),
    };
    if state.max_pages.is_none() {
        state.max_pages = Some(match page.total {
            Some(total) => total.div_ceil(page.received).saturating_mul(2) + PAGE_MARGIN,
            None => MAX_PAGES_WITHOUT_TOTAL,
        });
    }

    let mut fresh = Vec::with_capacity(page.items.len());
    for (item, item_key) in page.items.into_iter().zip(keys.iter()) {
        if state.seen.insert(item_key.clone()) {
            fresh.push(Ok(item));
        }
    }
    state.previous_keys = Some(keys);
    Some(fresh)
}

#[cfg(test)]
#[path = "paging_tests.rs"]
mod tests;
