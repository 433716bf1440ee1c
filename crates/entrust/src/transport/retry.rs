//! Retry timing: exponential backoff with jitter, and Entrust's `Retry-After`.

use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;

/// When and how long to wait between attempts of a call that is safe to repeat.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// Returns the wait before retry number `retry` (1 for the first retry), or `None` when
    /// Entrust asked for a longer wait than the policy allows, so the caller gets the error.
    ///
    /// With a `Retry-After`, the wait is that value plus up to 10 % (at most 1 s) of jitter, so
    /// replicas throttled together do not return together. Without one, the wait is drawn
    /// uniformly between half and all of `initial_backoff * 2^(retry - 1)`, capped at
    /// `max_backoff`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let mut rng = rand::rng();
        if let Some(requested) = retry_after {
            if requested > self.max_retry_after {
                return None;
            }
            let spread = (requested / 10).min(Duration::from_secs(1));
            return Some(requested + spread.mul_f64(rng.random::<f64>()));
        }
        let exponent = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1_u32 << exponent)
            .min(self.max_backoff);
        let floor = ceiling / 2;
        Some(floor + (ceiling - floor).mul_f64(rng.random::<f64>()))
    }
}

/// Reads `Retry-After` as whole seconds. ECS sends an integer on 429 and 503; an HTTP date
/// (used only on domain responses) or anything else reads as absent.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Reads `X-Rate-Limit-Limit`: requests allowed per 30-second window.
pub(crate) fn rate_limit(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("x-rate-limit-limit")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds() {
        let policy = policy();
        for (retry, ceiling_ms) in [
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1600),
            (5, 2000),
            (9, 2000),
        ] {
            for _ in 0..50 {
                let delay = policy.delay(retry, None).map(|d| d.as_millis());
                let Some(delay) = delay else {
                    panic!("backoff without Retry-After must always wait");
                };
                assert!(
                    delay >= ceiling_ms / 2,
                    "retry {retry}: {delay} ms too short"
                );
                assert!(delay <= ceiling_ms, "retry {retry}: {delay} ms too long");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_with_small_jitter() {
        for _ in 0..50 {
            let delay = policy().delay(1, Some(Duration::from_secs(3)));
            let Some(delay) = delay else {
                panic!("a Retry-After within the limit must be waited for");
            };
            assert!(delay >= Duration::from_secs(3));
            assert!(delay <= Duration::from_millis(3300));
        }
    }

    #[test]
    fn retry_after_beyond_limit_gives_up() {
        assert_eq!(policy().delay(1, Some(Duration::from_secs(31))), None);
    }

    #[test]
    fn retry_after_header_reads_integer_seconds_only() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static(" 2 "));
        headers.insert("x-rate-limit-limit", HeaderValue::from_static("100"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        assert_eq!(rate_limit(&headers), Some(100));

        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
