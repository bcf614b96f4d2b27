//! Rate limits on the SCIM endpoints.

use std::net::IpAddr;

/// SCIM request-rate limits (GCRA, from `governor`), applied once the caller is known:
///
/// - an authenticated caller gets `scim_rate_limit` requests a second (bursts of twice that)
///   per token and identity provider, so nobody else's traffic spends that budget;
/// - requests that fail authentication spend a budget of their client address
///   (`scim_unauthenticated_rate_limit`); past it they are answered 429 instead of 401. A valid
///   token from that address is still served: failures never spend anyone else's budget.
///
/// A 0 rate turns that limit off.
pub struct Limiter {
    callers: Option<governor::DefaultKeyedRateLimiter<(uuid::Uuid, uuid::Uuid)>>,
    strangers: Option<governor::DefaultKeyedRateLimiter<IpAddr>>,
    checks: std::sync::atomic::AtomicU64,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
) -> Option<governor::DefaultKeyedRateLimiter<K>> {
    let rate = std::num::NonZeroU32::new(per_second)?;
    let burst = rate.saturating_mul(std::num::NonZeroU32::MIN.saturating_add(1));
    Some(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    ))
}

/// Whose budget a failed authentication spends: the IPv4 address, or the IPv6 /64 (one host
/// usually holds a whole /64, so single IPv6 addresses would give it endless fresh budgets).
fn budget_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

fn wait_secs(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    use governor::clock::{Clock, DefaultClock};
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Limiter {
    pub fn new(per_second: u32, unauthenticated_per_second: u32) -> Limiter {
        Limiter {
            callers: keyed(per_second),
            strangers: keyed(unauthenticated_per_second),
            checks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Forget idle keys now and then, so made-up tokens or addresses cannot grow the tables.
    fn tidy(&self) {
        let n = self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 4096 == 4095 {
            if let Some(l) = &self.callers {
                l.retain_recent();
            }
            if let Some(l) = &self.strangers {
                l.retain_recent();
            }
        }
    }

    /// A failed authentication from `ip`: `Err(seconds)` once that address's budget is spent.
    pub(super) fn refused(&self, ip: IpAddr) -> Result<(), u64> {
        self.tidy();
        match &self.strangers {
            Some(l) => l.check_key(&budget_key(ip)).map_err(|n| wait_secs(&n)),
            None => Ok(()),
        }
    }

    /// `Err(seconds)` when this token's budget on this provider is spent.
    pub(super) fn admitted(&self, token: uuid::Uuid, idp: uuid::Uuid) -> Result<(), u64> {
        self.tidy();
        match &self.callers {
            Some(l) => l.check_key(&(token, idp)).map_err(|n| wait_secs(&n)),
            None => Ok(()),
        }
    }
}
