//! A grant in force for one tenant: its budget's bucket and its counts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Bucket, Denial, Grant, GrantRule};
use crate::error::Error;

/// A grant in force: the grant, its budget's bucket and its denial counts,
/// shared by every `Credential` built from one `Config`.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub(crate) grant: Grant,
    bucket: Bucket,
    denied: [AtomicU64; GrantRule::ALL.len()],
}

impl Tenant {
    pub(crate) fn new(grant: Grant) -> Tenant {
        Tenant {
            bucket: Bucket::new(grant.budget),
            grant,
            denied: Default::default(),
        }
    }

    /// `check`'s verdict, a denial counted and turned into `Error::Denied`.
    pub(crate) fn enforce(&self, check: Result<(), Denial>) -> Result<(), Error> {
        check.map_err(|denial| {
            self.denied[denial.rule as usize].fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "azmi::grant", "{}", denial.message);
            Error::Denied(denial.message)
        })
    }

    /// One identity-endpoint request from the budget, or `Error::Denied`
    /// saying when the next one is available. A proactive `refresh` that
    /// the budget refuses is not a refusal of the call (the still-valid
    /// token is served), so it is not counted.
    pub(crate) fn spend(&self, refresh: bool) -> Result<(), Error> {
        if refresh {
            return self
                .bucket
                .take()
                .map_err(|_| Error::Denied("the budget defers this refresh".into()));
        }
        let verdict = self.bucket.take().map_err(|wait| {
            let budget = self.grant.budget;
            self.grant.deny(
                GrantRule::Budget,
                format!(
                    "another identity-endpoint request now: its budget is {} at once and one every {:?}, and the next is available in {} ms (tokens already cached cost nothing)",
                    budget.burst(),
                    budget.refill(),
                    wait.as_millis().max(1)
                ),
            )
        });
        self.enforce(verdict)
    }

    pub(crate) fn stats(&self) -> GrantStats {
        let denied = GrantRule::ALL
            .into_iter()
            .map(|rule| (rule, self.denied[rule as usize].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        GrantStats { denied }
    }
}

/// Denials by rule, for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantStats {
    /// How many calls each rule refused (rules that refused none are absent).
    pub denied: BTreeMap<GrantRule, u64>,
}

impl GrantStats {
    /// Calls refused by `rule`.
    pub fn denied_by(&self, rule: GrantRule) -> u64 {
        self.denied.get(&rule).copied().unwrap_or(0)
    }
}
