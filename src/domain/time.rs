//! Times as responders type them (`--occurred`), and how they are shown.
//! Pure: the clock and the zone are passed in.

use chrono::{DateTime, Local, NaiveTime, Offset, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// How far in the future an `--occurred` time may be (clocks differ a little).
pub const FUTURE_SLACK_MS: Millis = 60_000;

/// A zone for reading wall-clock times like `10:02`.
#[derive(Debug, Clone)]
pub enum Zone {
    Local,
    Utc,
    Named(chrono_tz::Tz),
    Fixed(chrono::FixedOffset),
}

impl Zone {
    pub fn parse(s: &str) -> Result<Zone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("local") {
            return Ok(Zone::Local);
        }
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Utc);
        }
        if let Ok(tz) = t.parse::<chrono_tz::Tz>() {
            return Ok(Zone::Named(tz));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{t}")) {
            return Ok(Zone::Fixed(*dt.offset()));
        }
        Err(format!(
            "unknown time zone `{s}`; use an IANA name like Europe/Berlin, an offset like +02:00, UTC or local"
        ))
    }

    fn resolve_today(&self, now: DateTime<Utc>, t: NaiveTime) -> Option<DateTime<Utc>> {
        fn on<Z: TimeZone>(z: &Z, now: DateTime<Utc>, t: NaiveTime) -> Option<DateTime<Utc>> {
            let day = now.with_timezone(z).date_naive();
            z.from_local_datetime(&day.and_time(t))
                .earliest()
                .map(|d| d.with_timezone(&Utc))
        }
        match self {
            Zone::Local => on(&Local, now, t),
            Zone::Utc => on(&Utc, now, t),
            Zone::Named(z) => on(z, now, t),
            Zone::Fixed(z) => on(z, now, t),
        }
    }
}

/// Parse a responder's `--occurred`: RFC 3339, `HH:MM[:SS]` today in `zone`, or relative like
/// `-15m`, `-1h30m`, `-2d`, `now`. Refuses times more than a minute in the future.
pub fn parse_occurred(input: &str, now: DateTime<Utc>, zone: &Zone) -> Result<Millis, String> {
    let s = input.trim();
    let at = if s.eq_ignore_ascii_case("now") {
        now
    } else if let Some(rel) = s.strip_prefix('-') {
        let ms = parse_duration(rel).ok_or_else(|| {
            format!("cannot read `{input}`: a relative time looks like -15m, -2h, -1h30m, -45s or -1d")
        })?;
        now - chrono::Duration::milliseconds(ms)
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Some(t) = parse_clock(s) {
        let at = zone
            .resolve_today(now, t)
            .ok_or_else(|| format!("`{input}` does not exist today in that time zone"))?;
        // "10:02" typed just after midnight for last night's alert means yesterday.
        if at.timestamp_millis() - now.timestamp_millis() > FUTURE_SLACK_MS {
            at - chrono::Duration::days(1)
        } else {
            at
        }
    } else {
        return Err(format!(
            "cannot read time `{input}`; use RFC 3339 (2026-11-26T10:02:00Z), HH:MM[:SS] or a relative time like -15m"
        ));
    };
    let ms = at.timestamp_millis();
    if ms - now.timestamp_millis() > FUTURE_SLACK_MS {
        return Err(format!(
            "{} is in the future; --occurred is when something already happened",
            format_utc(ms)
        ));
    }
    Ok(ms)
}

fn parse_clock(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

/// `1h30m`, `15m`, `45s`, `2d` → milliseconds.
pub fn parse_duration(s: &str) -> Option<Millis> {
    let mut total: Millis = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: Millis = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        any = true;
    }
    (num.is_empty() && any).then_some(total)
}

pub fn to_datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `2026-11-26T10:02:00Z`
pub fn format_utc(ms: Millis) -> String {
    to_datetime(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `T+01:02:03` (or `T+2d 01:02:03`), for incident clocks.
pub fn format_elapsed(ms: Millis) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    let s = ms.abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("T{sign}{d}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("T{sign}{h:02}:{m:02}:{sec:02}")
    }
}

/// `E+05:00` for scenario time.
pub fn format_scenario(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("E+{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("E+{:02}:{:02}", s / 60, s % 60)
    }
}

/// `3m`, `2h`, `5d`: a short age.
pub fn format_age(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d{}h", s / 86_400, s / 3600 % 24),
    }
}

/// The local offset of the machine (for showing local time on demand).
pub fn local_offset_secs(ms: Millis) -> i32 {
    to_datetime(ms).with_timezone(&Local).offset().fix().local_minus_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap()
    }

    #[test]
    fn reads_every_form() {
        let n = now();
        assert_eq!(
            format_utc(parse_occurred("-15m", n, &Zone::Utc).unwrap()),
            "2026-11-26T11:45:00Z"
        );
        assert_eq!(
            format_utc(parse_occurred("-1h30m", n, &Zone::Utc).unwrap()),
            "2026-11-26T10:30:00Z"
        );
        assert_eq!(
            format_utc(parse_occurred("10:02", n, &Zone::Utc).unwrap()),
            "2026-11-26T10:02:00Z"
        );
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            format_utc(parse_occurred("10:02:30", n, &berlin).unwrap()),
            "2026-11-26T09:02:30Z"
        );
        let plus2 = Zone::parse("+02:00").unwrap();
        assert_eq!(
            format_utc(parse_occurred("13:00", n, &plus2).unwrap()),
            "2026-11-26T11:00:00Z"
        );
        assert_eq!(
            format_utc(parse_occurred("2026-11-25T23:00:00+01:00", n, &Zone::Utc).unwrap()),
            "2026-11-25T22:00:00Z"
        );
    }

    #[test]
    fn clock_time_later_today_means_yesterday() {
        assert_eq!(
            format_utc(parse_occurred("23:50", now(), &Zone::Utc).unwrap()),
            "2026-11-25T23:50:00Z"
        );
    }

    #[test]
    fn refuses_future_and_garbage() {
        assert!(parse_occurred("2026-11-26T12:05:00Z", now(), &Zone::Utc)
            .unwrap_err()
            .contains("future"));
        assert!(parse_occurred("2026-11-26T12:00:30Z", now(), &Zone::Utc).is_ok());
        assert!(parse_occurred("yesterday", now(), &Zone::Utc).is_err());
        assert!(parse_occurred("-15x", now(), &Zone::Utc).is_err());
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_elapsed(3_723_000), "T+01:02:03");
        assert_eq!(format_elapsed(90_000_000), "T+1d 01:00:00");
        assert_eq!(format_age(59_000), "59s");
        assert_eq!(format_age(3_600_000 * 2 + 60_000), "2h01m");
    }
}
