//! Times in token responses, in every form the managed-identity endpoints
//! send: Unix seconds as a JSON
//! integer or a string of digits; App Service 2017's dates,
//! `06/20/2019 02:57:58 +00:00` (Linux) and `1/16/2020 5:24:12 AM +00:00`
//! (Windows); and RFC 3339. Errors describe the shape, never the value.

use serde_json::Value;

/// A non-negative number of seconds (`expires_in`, `refresh_in`): a JSON
/// integer or a string of digits.
pub(crate) fn seconds(value: &Value) -> Result<u64, &'static str> {
    match value {
        Value::Number(n) => n.as_u64().ok_or("is not a non-negative integer"),
        Value::String(s) => digits(s.trim()).ok_or("is a string but not an integer"),
        _ => Err("is neither an integer nor a string of digits"),
    }
}

/// A point in time (`expires_on`) as Unix seconds.
pub(crate) fn timestamp(value: &Value) -> Result<u64, &'static str> {
    match value {
        Value::Number(n) => n.as_u64().ok_or("is not a non-negative integer"),
        Value::String(s) => {
            let s = s.trim();
            digits(s)
                .or_else(|| us_date(s))
                .or_else(|| rfc3339(s))
                .ok_or("is neither Unix seconds nor a date in a known form")
        }
        _ => Err("is neither a number nor a string"),
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `M/D/YYYY H:MM:SS [AM|PM] ±HH:MM`, as App Service 2017 sends it.
fn us_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let (date, time, meridiem, offset) = match parts.as_slice() {
        [date, time, offset] => (*date, *time, None, *offset),
        [date, time, m, offset] => (*date, *time, Some(*m), *offset),
        _ => return None,
    };
    let mut d = date.split('/');
    let (month, day, year) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    if d.next().is_some() || year < 1970 {
        return None;
    }
    let (mut hour, minute, second) = clock(time)?;
    match meridiem.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some(m @ ("AM" | "PM")) => {
            if !(1..=12).contains(&hour) {
                return None;
            }
            hour = hour % 12 + if m == "PM" { 12 } else { 0 };
        }
        Some(_) => return None,
    }
    let local = civil_to_unix(year, month, day, hour, minute, second)?;
    apply_offset(local, offset)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, and the same with a space for
/// `T` (as MSAL Go accepts).
fn rfc3339(s: &str) -> Option<u64> {
    if s.len() < 20 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (year, month, day) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    let (time, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let time = time.split('.').next()?;
    let (hour, minute, second) = clock(time)?;
    let local = civil_to_unix(year, month, day, hour, minute, second)?;
    if offset.eq_ignore_ascii_case("z") {
        Some(local)
    } else {
        apply_offset(local, offset)
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn clock(s: &str) -> Option<(u64, u64, u64)> {
    let mut t = s.split(':');
    let (h, m, sec) = (number(t.next()?)?, number(t.next()?)?, number(t.next()?)?);
    (t.next().is_none() && h < 24 && m < 60 && sec < 61).then_some((h, m, sec))
}

/// Subtracts a `±HH:MM` offset from a local time.
fn apply_offset(local: u64, offset: &str) -> Option<u64> {
    let (sign, hm) = match offset.as_bytes().first()? {
        b'+' => (1i64, &offset[1..]),
        b'-' => (-1i64, &offset[1..]),
        _ => return None,
    };
    let (h, m) = hm.split_once(':')?;
    let (h, m) = (number(h)?, number(m)?);
    if h > 23 || m > 59 {
        return None;
    }
    let shift = sign * i64::try_from(h * 3600 + m * 60).ok()?;
    u64::try_from(i64::try_from(local).ok()? - shift).ok()
}

/// Days from the civil date (Howard Hinnant's algorithm), as Unix seconds.
fn civil_to_unix(
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
) -> Option<u64> {
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day == 0 || day > days_in_month {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests;
