//! The retry settings the component follows, with their defaults and the
//! `AZMI_RETRY` text a host passes them in (documented in `wit/azmi.wit`):
//! written once here for the host that encodes them and the component
//! that parses them.

use std::time::Duration;

/// How the component retries within a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrySettings {
    /// Retries after the first attempt (more after a 410, see below).
    pub max_retries: u32,
    /// The first backoff; each next one doubles.
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// After IMDS answers 410 ("updating, back within 70 s"), keep trying
    /// until this much time has passed.
    pub gone_min_total: Duration,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
    /// The whole call's budget, from its start.
    pub deadline: Duration,
    /// Multiplies every wait (1 in production; tests shrink time with it).
    pub scale: f64,
}

/// The deadline of a call when nothing says otherwise: long enough for
/// IMDS's 410 floor (`gone_min_total`) to pass.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(90);

impl Default for RetrySettings {
    fn default() -> RetrySettings {
        RetrySettings {
            max_retries: 5,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            gone_min_total: Duration::from_secs(70),
            retry_after_cap: Duration::from_secs(60),
            deadline: DEFAULT_DEADLINE,
            scale: 1.0,
        }
    }
}

impl RetrySettings {
    /// `key=value,…`, as `parse` reads it.
    pub fn encode(&self) -> String {
        format!(
            "max_retries={},base_ms={},max_delay_ms={},gone_min_ms={},retry_after_cap_ms={},deadline_ms={},scale={}",
            self.max_retries,
            millis(self.base_delay),
            millis(self.max_delay),
            millis(self.gone_min_total),
            millis(self.retry_after_cap),
            millis(self.deadline),
            self.scale,
        )
    }

    /// Parses `key=value,…` (`max_retries`, `base_ms`, `max_delay_ms`,
    /// `gone_min_ms`, `retry_after_cap_ms`, `deadline_ms`, `scale`); keys
    /// not given keep their defaults. Unknown keys and bad values are
    /// errors, as a host that sets this means it.
    pub fn parse(text: &str) -> Result<RetrySettings, String> {
        let mut settings = RetrySettings::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not key=value"))?;
            let ms = || {
                value
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("{key}=`{value}` is not a number of milliseconds"))
            };
            match key {
                "max_retries" => {
                    settings.max_retries = value
                        .parse()
                        .map_err(|_| format!("max_retries=`{value}` is not a count"))?
                }
                "base_ms" => settings.base_delay = ms()?,
                "max_delay_ms" => settings.max_delay = ms()?,
                "gone_min_ms" => settings.gone_min_total = ms()?,
                "retry_after_cap_ms" => settings.retry_after_cap = ms()?,
                "deadline_ms" => settings.deadline = ms()?,
                "scale" => {
                    settings.scale = value
                        .parse::<f64>()
                        .ok()
                        .filter(|s| is_scale(*s))
                        .ok_or_else(|| format!("scale=`{value}` is not a number in (0, 1]"))?;
                }
                other => return Err(format!("unknown setting `{other}`")),
            }
        }
        Ok(settings)
    }
}

/// Whether `scale` is a valid time scale: in (0, 1].
pub fn is_scale(scale: f64) -> bool {
    scale.is_finite() && scale > 0.0 && scale <= 1.0
}

/// Milliseconds as `parse` reads them (a `u64`; longer is forever).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
