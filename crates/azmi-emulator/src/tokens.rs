//! What every emulated identity endpoint shares: choosing the identity a
//! request names, and minting its token.

use serde_json::json;

use super::{EmulatedIdentity, Shared, now};

/// How a request names a user-assigned identity, whatever the platform
/// calls the parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Selector<'a> {
    Client(&'a str),
    Object(&'a str),
    Resource(&'a str),
}

/// The identity `selectors` name, with IMDS's answers when none or several
/// do.
pub(super) fn select<'s>(
    state: &'s Shared,
    selectors: &[Selector<'_>],
) -> Result<&'s EmulatedIdentity, &'static str> {
    let config = &state.config;
    match selectors {
        [] => match (&config.system_identity, config.user_assigned.as_slice()) {
            (Some(system), _) => Ok(system),
            // With no system identity and exactly one user-assigned one, a
            // system-assigned request gets that one.
            (None, [only]) => Ok(only),
            (None, []) => Err("Identity not found"),
            (None, _) => Err(
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
            ),
        },
        [selector] => config
            .user_assigned
            .iter()
            .find(|id| match *selector {
                Selector::Client(v) => id.client_id.eq_ignore_ascii_case(v),
                Selector::Object(v) => id.object_id.eq_ignore_ascii_case(v),
                Selector::Resource(v) => id
                    .resource_id
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(v)),
            })
            .ok_or("Identity not found"),
        _ => Err("Only one of client_id, object_id or the resource id may be specified"),
    }
}

/// A minted token.
pub(super) struct Issued {
    pub(super) token: String,
    pub(super) issued: u64,
    pub(super) lifetime: u64,
    pub(super) expires_on: u64,
}

/// A JWT-shaped token for `identity` and `resource` (or the configured
/// audience override).
pub(super) fn issue(state: &Shared, identity: &EmulatedIdentity, resource: &str) -> Issued {
    let issued = now();
    let lifetime = state.config.token_lifetime.as_secs();
    let expires_on = issued + lifetime;
    let audience = state
        .config
        .audience_override
        .as_deref()
        .unwrap_or(resource);
    let claims = json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{}/", state.config.tenant_id),
        "iat": issued,
        "nbf": issued,
        "exp": expires_on,
        "oid": identity.object_id,
        "sub": identity.object_id,
        "appid": identity.client_id,
        "tid": state.config.tenant_id,
        "idtyp": "app",
        "xms_mirid": identity.resource_id,
    });
    Issued {
        token: state.signer.issue(&claims),
        issued,
        lifetime,
        expires_on,
    }
}

/// `MM/DD/YYYY HH:MM:SS +00:00`, App Service 2017's expiry format.
pub(super) fn us_date(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{month:02}/{day:02}/{year:04} {:02}:{:02}:{:02} +00:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `M/D/YYYY h:mm:ss AM +00:00`, App Service 2017's expiry on Windows.
pub(super) fn windows_date(unix: u64) -> String {
    let linux = us_date(unix);
    // `MM/DD/YYYY HH:MM:SS +00:00` → drop leading zeros, 12-hour clock.
    let (date, rest) = linux.split_once(' ').unwrap_or_default();
    let (time, offset) = rest.split_once(' ').unwrap_or_default();
    let mut d = date
        .split('/')
        .map(|p| p.trim_start_matches('0').to_owned());
    let (month, day, year) = (
        d.next().unwrap_or_default(),
        d.next().unwrap_or_default(),
        d.next().unwrap_or_default(),
    );
    let mut t = time.split(':');
    let hour: u64 = t.next().and_then(|h| h.parse().ok()).unwrap_or_default();
    let (minute, second) = (t.next().unwrap_or_default(), t.next().unwrap_or_default());
    let (hour12, meridiem) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{month}/{day}/{year} {hour12}:{minute}:{second} {meridiem} {offset}")
}

#[cfg(test)]
mod tests;
