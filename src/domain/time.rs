//! Times as responders type them (`--occurred`), and how they are shown.
//! Pure: the clock and the zone are passed in.

use chrono::{DateTime, Local, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};

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

    /// A wall-clock date and time in this zone, in UTC (`None` in a DST gap).
    fn resolve(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        fn on<Z: TimeZone>(z: &Z, local: NaiveDateTime) -> Option<DateTime<Utc>> {
            z.from_local_datetime(&local).earliest().map(|d| d.with_timezone(&Utc))
        }
        match self {
            Zone::Local => on(&Local, local),
            Zone::Utc => on(&Utc, local),
            Zone::Named(z) => on(z, local),
            Zone::Fixed(z) => on(z, local),
        }
    }

    /// `now` as a wall-clock date and time in this zone.
    fn local_now(&self, now: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Local => now.with_timezone(&Local).naive_local(),
            Zone::Utc => now.naive_utc(),
            Zone::Named(z) => now.with_timezone(z).naive_local(),
            Zone::Fixed(z) => now.with_timezone(z).naive_local(),
        }
    }

    /// How the zone is named in messages: `UTC`, `local`, `Europe/Berlin`, `+02:00`.
    fn label(&self) -> String {
        match self {
            Zone::Local => "local".into(),
            Zone::Utc => "UTC".into(),
            Zone::Named(z) => z.name().into(),
            Zone::Fixed(z) => z.to_string(),
        }
    }
}

/// 2000-01-01T00:00:00Z: no incident record starts earlier, so an earlier time is a typo.
pub const EARLIEST_MS: Millis = 946_684_800_000;

/// Parse a responder's `--occurred` (or an imported time): RFC 3339, `YYYY-MM-DDTHH:MM[:SS]` in
/// `zone`, `HH:MM[:SS]` today in `zone`, or relative like `-15m`, `-1h30m`, `-2d`, `now`.
/// Returns milliseconds since the epoch, UTC. Refuses what no one means: times more than a minute
/// in the future, times before 2000, bare numbers (seconds or milliseconds?) and a clock time
/// that is still ahead today (it is not silently read as yesterday).
pub fn parse_occurred(input: &str, now: DateTime<Utc>, zone: &Zone) -> Result<Millis, String> {
    let s = input.trim();
    let at = if s.eq_ignore_ascii_case("now") {
        now
    } else if let Some(rel) = s.strip_prefix('-') {
        let ms = parse_duration(rel).ok_or_else(|| {
            format!("cannot read `{input}`: a relative time looks like -15m, -2h, -1h30m, -45s or -1d")
        })?;
        now.checked_sub_signed(chrono::Duration::milliseconds(ms))
            .ok_or_else(|| format!("`{input}` is too far back"))?
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Some(local) = parse_local_datetime(s) {
        zone.resolve(local)
            .ok_or_else(|| format!("`{input}` does not exist in {} (a daylight-saving gap)", zone.label()))?
    } else if let Some(t) = parse_clock(s) {
        clock_today(s, t, now, zone)?
    } else if is_bare_number(s) {
        return Err(bare_number_error(s));
    } else {
        return Err(format!(
            "cannot read time `{input}`; use RFC 3339 (2026-11-26T10:02:00Z), HH:MM[:SS] or a relative time like -15m"
        ));
    };
    check_range(at.timestamp_millis(), now.timestamp_millis())
}

/// How far ahead a new follow-up's due date may lie (about five years).
pub const MAX_DUE_AHEAD_MS: Millis = 5 * 366 * 24 * 3_600_000;

/// The writer's rule for a due date it is about to record (the reader accepts any valid time): not
/// before `now`, not more than about five years ahead.
pub fn check_due_for_writing(due: Millis, now: Millis) -> Result<Millis, String> {
    if due < now {
        return Err(format!(
            "due date {} is in the past; a follow-up is due from now on",
            format_utc(due)
        ));
    }
    if due - now > MAX_DUE_AHEAD_MS {
        return Err(format!(
            "due date {} is more than five years ahead; give a date the owner can plan for",
            format_utc(due)
        ));
    }
    Ok(due)
}

/// A due date: `2026-12-15` (the end of that day in `zone`), a date and time, RFC 3339, or a
/// time from now like `+7d`, `7d`, `+36h`. Unlike [`parse_occurred`] it may (and usually does) lie
/// in the future; it may not lie before 2000 or after 9999.
pub fn parse_due(input: &str, now: DateTime<Utc>, zone: &Zone) -> Result<Millis, String> {
    let s = input.trim();
    let rel = s.strip_prefix('+').unwrap_or(s);
    let at = if let Some(ms) = parse_duration(rel) {
        now.checked_add_signed(chrono::Duration::milliseconds(ms))
            .ok_or_else(|| format!("`{input}` is too far ahead"))?
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Some(local) = parse_local_datetime(s) {
        zone.resolve(local)
            .ok_or_else(|| format!("`{input}` does not exist in {} (a daylight-saving gap)", zone.label()))?
    } else if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let end = d
            .and_hms_opt(23, 59, 0)
            .ok_or_else(|| format!("cannot read due date `{input}`"))?;
        zone.resolve(end)
            .ok_or_else(|| format!("`{input}` does not exist in {}", zone.label()))?
    } else {
        return Err(format!(
            "cannot read due date `{input}`; use 2026-12-15, 2026-12-15 17:00, RFC 3339 or a time from now like +7d"
        ));
    };
    let ms = at.timestamp_millis();
    if !(EARLIEST_MS..=super::event::MAX_TIME).contains(&ms) {
        return Err(format!("due date `{input}` is not between 2000 and 9999"));
    }
    Ok(ms)
}

/// A time already read is plausible: not before 2000, not more than a minute in the future.
pub fn check_range(ms: Millis, now: Millis) -> Result<Millis, String> {
    if ms < EARLIEST_MS {
        return Err(format!(
            "{} is before 2000: no incident record starts that early; check the year",
            format_utc(ms)
        ));
    }
    if ms - now > FUTURE_SLACK_MS {
        return Err(format!(
            "{} is in the future; --occurred is when something already happened",
            format_utc(ms)
        ));
    }
    Ok(ms)
}

/// `HH:MM[:SS]` today in `zone`. A time still ahead today is refused with what the responder
/// probably meant spelled out: guessing "yesterday" (or "tomorrow") would put a wrong time into a
/// record that people reconstruct the incident from.
fn clock_today(typed: &str, t: NaiveTime, now: DateTime<Utc>, zone: &Zone) -> Result<DateTime<Utc>, String> {
    let local_now = zone.local_now(now);
    let at = zone.resolve(local_now.date().and_time(t)).ok_or_else(|| {
        format!(
            "`{typed}` does not exist today in {} (a daylight-saving gap)",
            zone.label()
        )
    })?;
    let ahead = at.timestamp_millis() - now.timestamp_millis();
    if ahead <= FUTURE_SLACK_MS {
        return Ok(at);
    }
    let yesterday = local_now.date() - chrono::Duration::days(1);
    let ago = now.timestamp_millis() - (at.timestamp_millis() - 86_400_000);
    Err(format!(
        "{typed} is {} ahead of now ({} {}); for yesterday write {}T{typed} or -{}",
        format_span(ahead),
        local_now.format("%H:%M"),
        zone.label(),
        yesterday.format("%Y-%m-%d"),
        format_relative(ago)
    ))
}

/// `1 h 33 min`, `5 min`, `40 s`: a distance in words, to the minute once over one.
fn format_span(ms: Millis) -> String {
    let secs = ms.max(0) / 1000;
    if secs < 60 {
        return format!("{secs} s");
    }
    let mins = (secs + 30) / 60;
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// `22h27m`, `45m`, `30s`: a duration in the form a relative `--occurred` takes (without `-`).
fn format_relative(ms: Millis) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Digits (maybe with a fraction): an epoch count whose unit is a guess.
fn is_bare_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.matches('.').count() <= 1
}

/// Why a bare number is refused, with both readings so the responder sees the trap.
pub fn bare_number_error(s: &str) -> String {
    let whole = s.split('.').next().unwrap_or(s).trim_start_matches('+');
    let reading = |ms: Option<Millis>| ms.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let as_secs = reading(whole.parse::<Millis>().ok().and_then(|n| n.checked_mul(1000)));
    let as_ms = reading(whole.parse::<Millis>().ok());
    let both = match (as_secs, as_ms) {
        (Some(a), Some(b)) => format!(
            " (as seconds since 1970 it is {}, as milliseconds {})",
            a.format("%Y-%m-%dT%H:%M:%SZ"),
            b.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        _ => String::new(),
    };
    format!(
        "`{s}` is a bare number: seconds or milliseconds?{both}; write the time in RFC 3339, e.g. 2026-11-26T10:02:00Z"
    )
}

/// `2026-11-29T23:59[:SS]` (or with a space): a wall-clock date and time without an offset.
fn parse_local_datetime(s: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// `HH:MM` or `HH:MM:SS`, two digits each (`0:1` is a typo, not one minute past midnight; a
/// leap second `:60` is refused).
fn parse_clock(s: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = s.split(':').collect();
    let two_digits = |p: &&str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(two_digits) {
        return None;
    }
    let n: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    let sec = n.get(2).copied().unwrap_or(0);
    if sec > 59 {
        return None;
    }
    NaiveTime::from_hms_opt(n[0], n[1], sec)
}

/// `1h30m`, `15m`, `45s`, `2d` → milliseconds. Units in order, each at most once (`1d1d` is a
/// typo, not two days).
pub fn parse_duration(s: &str) -> Option<Millis> {
    let mut total: Millis = 0;
    let mut num = String::new();
    let mut any = false;
    let mut last_unit = Millis::MAX;
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
        if unit >= last_unit {
            return None;
        }
        last_unit = unit;
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

/// An age for a screen redrawn once a minute (the board): whole minutes, `<1m` under one, so
/// nothing shown goes stale between redraws.
pub fn format_age_minutes(ms: Millis) -> String {
    if ms < 60_000 {
        "<1m".to_string()
    } else {
        format_age(ms)
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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap()
    }

    #[test]
    fn typos_are_not_times() {
        let now = to_datetime(1_764_500_000_000);
        for bad in ["-1d1d", "-1m1h", "0:1", "00:00:60", "1:2:3", "12:5"] {
            assert!(parse_occurred(bad, now, &Zone::Utc).is_err(), "{bad} accepted");
        }
        for good in ["-1h30m", "-1d2h", "00:00", "00:00:59"] {
            assert!(parse_occurred(good, now, &Zone::Utc).is_ok(), "{good} refused");
        }
    }

    #[test]
    fn reads_every_form() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let plus2 = Zone::parse("+02:00").unwrap();
        // (typed, zone, expected UTC)
        let cases: &[(&str, &Zone, &str)] = &[
            ("now", &Zone::Utc, "2026-11-26T12:00:00Z"),
            ("-15m", &Zone::Utc, "2026-11-26T11:45:00Z"),
            ("-1h30m", &Zone::Utc, "2026-11-26T10:30:00Z"),
            ("-2d", &Zone::Utc, "2026-11-24T12:00:00Z"),
            ("10:02", &Zone::Utc, "2026-11-26T10:02:00Z"),
            ("12:00:30", &Zone::Utc, "2026-11-26T12:00:30Z"),
            ("10:02:30", &berlin, "2026-11-26T09:02:30Z"),
            ("13:00", &plus2, "2026-11-26T11:00:00Z"),
            ("2026-11-25T23:00:00+01:00", &Zone::Utc, "2026-11-25T22:00:00Z"),
            ("2026-11-25T23:59", &Zone::Utc, "2026-11-25T23:59:00Z"),
            ("2026-11-25 23:59:10", &berlin, "2026-11-25T22:59:10Z"),
            ("2000-01-01T00:00:00Z", &Zone::Utc, "2000-01-01T00:00:00Z"),
        ];
        for (typed, zone, want) in cases {
            let got = parse_occurred(typed, now(), zone).map(format_utc);
            assert_eq!(got.as_deref(), Ok(*want), "{typed}");
        }
    }

    #[test]
    fn refuses_what_no_one_means() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // (typed, now, zone, the whole message)
        let cases: &[(&str, &str, &Zone, &str)] = &[
            (
                "1900-01-01T00:00:00Z",
                "2026-11-26T12:00:00Z",
                &Zone::Utc,
                "1900-01-01T00:00:00Z is before 2000: no incident record starts that early; check the year",
            ),
            (
                "-10000d",
                "2026-11-26T12:00:00Z",
                &Zone::Utc,
                "1999-07-11T12:00:00Z is before 2000: no incident record starts that early; check the year",
            ),
            (
                "1732000000",
                "2026-11-26T12:00:00Z",
                &Zone::Utc,
                "`1732000000` is a bare number: seconds or milliseconds? (as seconds since 1970 it is \
                 2024-11-19T07:06:40Z, as milliseconds 1970-01-21T01:06:40Z); write the time in RFC 3339, \
                 e.g. 2026-11-26T10:02:00Z",
            ),
            (
                "23:59",
                "2026-11-30T22:26:00Z",
                &Zone::Utc,
                "23:59 is 1 h 33 min ahead of now (22:26 UTC); for yesterday write 2026-11-29T23:59 or -22h27m",
            ),
            (
                "23:50",
                "2026-11-30T22:26:00Z",
                &berlin,
                "23:50 is 24 min ahead of now (23:26 Europe/Berlin); for yesterday write 2026-11-29T23:50 or -23h36m",
            ),
            (
                "2026-11-26T12:05:00Z",
                "2026-11-26T12:00:00Z",
                &Zone::Utc,
                "2026-11-26T12:05:00Z is in the future; --occurred is when something already happened",
            ),
        ];
        for (typed, now, zone, want) in cases {
            assert_eq!(parse_occurred(typed, at(now), zone), Err(want.to_string()), "{typed}");
        }
        for garbage in ["yesterday", "-15x", "1732000000000", "0930", "12.5"] {
            assert!(parse_occurred(garbage, now(), &Zone::Utc).is_err(), "{garbage}");
        }
        assert!(Zone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn a_suggested_yesterday_is_accepted() {
        // What the refusal suggests must itself be read as the time meant.
        let n = at("2026-11-30T22:26:00Z");
        for typed in ["2026-11-29T23:59", "-22h27m"] {
            assert_eq!(
                parse_occurred(typed, n, &Zone::Utc).map(format_utc).as_deref(),
                Ok("2026-11-29T23:59:00Z"),
                "{typed}"
            );
        }
        // Within the minute of slack a clock time is still today.
        assert!(parse_occurred("22:27", n, &Zone::Utc).is_ok());
    }

    #[test]
    fn formats() {
        assert_eq!(format_elapsed(3_723_000), "T+01:02:03");
        assert_eq!(format_elapsed(90_000_000), "T+1d 01:00:00");
        assert_eq!(format_age(59_000), "59s");
        assert_eq!(format_age(3_600_000 * 2 + 60_000), "2h01m");
    }
}
