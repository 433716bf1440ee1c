//! [`InMemoryRateBudget`]: the rate budget of one process.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use tokio::time::Instant;

use super::{RateBudget, RateBudgetError, RateQuota};

/// A sliding-window budget kept in memory: it covers the clients of one process only.
///
/// For several replicas use the Postgres budget, because each process would otherwise spend
/// the whole quota on its own. Time comes from Tokio, so tests with paused time control it.
pub struct InMemoryRateBudget {
    quota: RateQuota,
    sent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl std::fmt::Debug for InMemoryRateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryRateBudget")
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl InMemoryRateBudget {
    /// Creates a budget that allows `quota` per credential.
    pub fn new(quota: RateQuota) -> Self {
        Self {
            quota,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Returns the quota.
    pub fn quota(&self) -> RateQuota {
        self.quota
    }

    /// Records a request now when fewer than the quota were sent within one hold time, which is
    /// the window plus its margin. Otherwise returns when the oldest of them stops counting.
    fn try_take(&self, credential_key: &str) -> Result<(), Instant> {
        let now = Instant::now();
        let hold = self.quota.hold();
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let log = sent.entry(credential_key.to_owned()).or_default();
        while log.front().is_some_and(|at| *at + hold <= now) {
            log.pop_front();
        }
        if log.len() < self.quota.requests() as usize {
            log.push_back(now);
            return Ok(());
        }
        Err(log.front().map_or(now, |oldest| *oldest + hold))
    }
}

#[async_trait]
impl RateBudget for InMemoryRateBudget {
    async fn acquire(&self, credential_key: &str) -> Result<(), RateBudgetError> {
        loop {
            match self.try_take(credential_key) {
                Ok(()) => return Ok(()),
                Err(free_at) => tokio::time::sleep_until(free_at).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn budget(requests: u32, window_secs: u64) -> Arc<InMemoryRateBudget> {
        let quota = RateQuota::new(requests, Duration::from_secs(window_secs))
            .unwrap_or_else(|error| panic!("test quota is valid: {error}"));
        Arc::new(InMemoryRateBudget::new(quota))
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_quota_wait_for_the_window() -> Result<(), RateBudgetError> {
        let budget = budget(3, 30);
        let start = Instant::now();

        let mut taken_at = Vec::new();
        for _ in 0..7 {
            budget.acquire("credential-a").await?;
            taken_at.push(start.elapsed().as_secs());
        }

        // Each request counts for the 30 s window plus its 1 s margin.
        assert_eq!(taken_at, vec![0, 0, 0, 31, 31, 31, 62]);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_have_separate_budgets() -> Result<(), RateBudgetError> {
        let budget = budget(2, 30);
        let start = Instant::now();

        for key in ["a", "a", "b", "b"] {
            budget.acquire(key).await?;
        }

        assert_eq!(start.elapsed(), Duration::ZERO);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn window_slides_with_each_request() -> Result<(), RateBudgetError> {
        let budget = budget(2, 30);
        let start = Instant::now();

        budget.acquire("a").await?;
        tokio::time::sleep(Duration::from_secs(20)).await;
        budget.acquire("a").await?;
        budget.acquire("a").await?;
        let third = start.elapsed();
        budget.acquire("a").await?;
        let fourth = start.elapsed();

        // The third request waits until the first stops counting (t = 31 s), the fourth until
        // the second does (t = 51 s).
        assert_eq!(third, Duration::from_secs(31));
        assert_eq!(fourth, Duration::from_secs(51));
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_never_exceed_quota() -> Result<(), RateBudgetError> {
        let budget = budget(4, 30);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let budget = budget.clone();
            tasks.push(tokio::spawn(async move {
                budget.acquire("shared").await.map(|()| start.elapsed())
            }));
        }

        let mut times = Vec::new();
        for task in tasks {
            let elapsed = task
                .await
                .unwrap_or_else(|error| panic!("acquire task failed: {error}"))?;
            times.push(elapsed.as_secs());
        }
        times.sort_unstable();

        assert_eq!(times, vec![0, 0, 0, 0, 31, 31, 31, 31, 62, 62]);
        Ok(())
    }
}
