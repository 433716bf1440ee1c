//! Limits that keep one caller from exhausting the gateway: a request rate per API token and a
//! deadline per request. The body size limit is [`crate::MAX_BODY_BYTES`].

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header::RETRY_AFTER};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::auth::Principal;
use crate::problem::Problem;

/// Requests per second each token may send to one gateway replica, by default.
pub const DEFAULT_RATE_PER_SECOND: u32 = 50;

/// Requests a token may send at once above its rate, by default.
pub const DEFAULT_BURST: u32 = 100;

/// Time a request may take from its first byte to its response, by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// The limits of one gateway replica.
#[derive(Debug, Clone)]
pub struct Limits {
    rate: Option<Arc<TokenRates>>,
    request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(
            DEFAULT_RATE_PER_SECOND,
            DEFAULT_BURST,
            DEFAULT_REQUEST_TIMEOUT,
        )
    }
}

impl Limits {
    /// Limits each token to `per_second` requests per second with bursts of `burst` (at least
    /// `per_second`), and each request to `request_timeout`. A rate of 0 turns rate limiting
    /// off.
    pub fn new(per_second: u32, burst: u32, request_timeout: Duration) -> Self {
        Self {
            rate: TokenRates::new(per_second, Duration::from_secs(1), burst).map(Arc::new),
            request_timeout,
        }
    }

    /// Counts the rate per `period` instead of per second, keeping the count and burst.
    pub fn with_period(mut self, period: Duration) -> Self {
        if let Some(rate) = &self.rate {
            self.rate = TokenRates::new(rate.count, period, rate.burst).map(Arc::new);
        }
        self
    }

    /// Forgets tokens that have been idle long enough to be back at a full burst, so the
    /// limiter's memory follows the tokens in use rather than every token ever seen.
    pub fn forget_idle_tokens(&self) {
        if let Some(rate) = &self.rate {
            rate.limiter.retain_recent();
            rate.limiter.shrink_to_fit();
        }
    }
}

#[derive(Debug)]
struct TokenRates {
    count: u32,
    burst: u32,
    limiter: DefaultKeyedRateLimiter<Uuid>,
    clock: DefaultClock,
}

impl TokenRates {
    /// Builds a limiter of `count` requests per `period` for each token, with bursts of `burst`.
    /// Returns `None` when `count` is 0.
    fn new(count: u32, period: Duration, burst: u32) -> Option<Self> {
        let count_per_period = NonZeroU32::new(count)?;
        let burst_size = NonZeroU32::new(burst.max(count)).unwrap_or(count_per_period);
        let quota = Quota::with_period(period / count)?.allow_burst(burst_size);
        Some(Self {
            count,
            burst,
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }
}

/// Middleware, after authentication: rejects a token's request with 429 and `Retry-After` when
/// the token is over its rate.
pub async fn limit_rate(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let (Some(rate), Some(principal)) = (&limits.rate, request.extensions().get::<Principal>())
    else {
        return next.run(request).await;
    };
    match rate.limiter.check_key(&principal.token_id) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(rate.clock.now());
            // Whole seconds, rounded up: Retry-After has no fractions.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            // Debug level: a client flooding the gateway would otherwise flood the log.
            tracing::debug!(
                token.id = %principal.token_id,
                retry_after_secs = seconds,
                "rejected a request over the token's rate"
            );
            let mut response = Problem::too_many_requests(seconds).into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
            response
        }
    }
}

/// Middleware, outermost: returns 504 when a request takes longer than the deadline. The work
/// is dropped at that point; a service call already sent may still complete.
pub async fn enforce_deadline(
    State(limits): State<Limits>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout_secs = limits.request_timeout.as_secs(),
                "a request exceeded the gateway's deadline"
            );
            Problem::timed_out(limits.request_timeout).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_is_never_below_the_rate() {
        let limits = Limits::new(10, 2, DEFAULT_REQUEST_TIMEOUT);
        let rate = limits.rate.expect("rate limiting is on");
        let token = Uuid::now_v7();
        for attempt in 0..10 {
            assert!(
                rate.limiter.check_key(&token).is_ok(),
                "request {attempt} of a burst of 10"
            );
        }
        assert!(rate.limiter.check_key(&token).is_err());
    }

    #[test]
    fn tokens_have_separate_budgets() {
        let limits = Limits::new(1, 1, DEFAULT_REQUEST_TIMEOUT);
        let rate = limits.rate.expect("rate limiting is on");
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        assert!(rate.limiter.check_key(&first).is_ok());
        assert!(rate.limiter.check_key(&first).is_err());
        assert!(rate.limiter.check_key(&second).is_ok());
    }

    #[test]
    fn zero_rate_turns_limiting_off() {
        assert!(Limits::new(0, 0, DEFAULT_REQUEST_TIMEOUT).rate.is_none());
    }
}
