//! Alerts as warroom reads them, whatever sent them: Prometheus Alertmanager's webhook (payload
//! version 4) or a simple generic JSON alert. Pure: bytes in, alerts or the reason out.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::time::Millis;

/// The longest label or annotation value kept (longer ones are cut, marked with `…`).
pub const MAX_VALUE: usize = 2048;
/// The most labels or annotations one alert may carry.
pub const MAX_FIELDS: usize = 64;
/// The most alerts one request may carry.
pub const MAX_ALERTS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub status: Status,
    /// A token (`[A-Za-z0-9._:-]`, 1-64): Alertmanager's, the sender's, or a hash of the labels.
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub generator_url: Option<String>,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("alert", String::as_str)
    }
}

/// What one request (or one document on stdin) brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub source: Source,
    pub alerts: Vec<Alert>,
    /// Alerts of the group Alertmanager left out of this payload (`truncatedAlerts`).
    pub truncated: u64,
    /// Alertmanager's group key: alerts of one group belong to one incident.
    pub group_key: Option<String>,
    pub receiver: Option<String>,
    pub external_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Alertmanager,
    Generic,
}

/// Alertmanager's webhook payload, version 4.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmPayload {
    version: String,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: u64,
    #[serde(default)]
    #[allow(dead_code)]
    status: Option<String>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    group_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
    alerts: Vec<AmAlert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

/// The generic alert: `{"title": .., "status": "firing"|"resolved", "labels": {..},
/// "annotations": {..}, "fingerprint": .., "startsAt": .., "endsAt": .., "url": ..}`; a title or
/// labels are required.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GenericAlert {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

/// What a request body held: the alerts that can be recorded, and each refused part with its
/// reason (`document 2: …`, `alerts[3]: …`). One bad alert never costs the others: Alertmanager
/// does not retry a 4xx, so refusing a whole group for one alert would lose the good ones.
#[derive(Debug, Default)]
pub struct Parsed {
    pub batches: Vec<Batch>,
    pub refused: Vec<String>,
}

/// One JSON document: an Alertmanager payload (it has `version`) or a generic alert, and the
/// payload's alerts that were refused (`alerts[i]: why`). `Err` when nothing in it is usable.
pub fn parse_document(v: Value) -> Result<(Batch, Vec<String>), String> {
    let Value::Object(map) = &v else {
        return Err("expected a JSON object (an Alertmanager payload or a generic alert)".into());
    };
    if map.contains_key("version") {
        let p: AmPayload = serde_json::from_value(v).map_err(|e| format!("Alertmanager payload: {e}"))?;
        return from_alertmanager(p);
    }
    let g: GenericAlert = serde_json::from_value(v).map_err(|e| format!("generic alert: {e}"))?;
    from_generic(g).map(|a| {
        let batch = Batch {
            source: Source::Generic,
            alerts: vec![a],
            truncated: 0,
            group_key: None,
            receiver: None,
            external_url: None,
        };
        (batch, Vec::new())
    })
}

/// Every JSON document in `bytes` (one, or several one after another as in JSON lines). `Err`
/// only when nothing in the body is usable; otherwise the refused parts are in
/// [`Parsed::refused`]. A JSON syntax error ends the stream (what follows cannot be trusted to
/// start a document), keeping the documents before it.
pub fn parse_documents(bytes: &[u8]) -> Result<Parsed, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the body is not UTF-8".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Parsed::default();
    let mut count = 0;
    for (i, v) in serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .enumerate()
    {
        count = i + 1;
        let name = |e: String| if i == 0 { e } else { format!("document {}: {e}", i + 1) };
        let v = match v {
            Ok(v) => v,
            Err(e) => {
                out.refused.push(name(format!("not JSON: {e}")));
                break;
            }
        };
        match parse_document(v) {
            Ok((batch, refused)) => {
                out.refused.extend(refused.into_iter().map(name));
                if !batch.alerts.is_empty() {
                    out.batches.push(batch);
                }
            }
            Err(e) => out.refused.push(name(e)),
        }
    }
    if count == 0 {
        return Err("the body is empty".into());
    }
    if out.batches.is_empty() {
        return Err(match out.refused.len() {
            0 => "no alert in the body".to_string(),
            _ => out.refused.join("; "),
        });
    }
    Ok(out)
}

fn from_alertmanager(p: AmPayload) -> Result<(Batch, Vec<String>), String> {
    if p.version != "4" {
        return Err(format!(
            "Alertmanager payload version {:?} is not supported (version 4 is)",
            clip(&p.version)
        ));
    }
    if p.alerts.len() > MAX_ALERTS {
        return Err(format!(
            "{} alerts in one payload; at most {MAX_ALERTS}",
            p.alerts.len()
        ));
    }
    let mut alerts = Vec::with_capacity(p.alerts.len());
    let mut refused = Vec::new();
    for (i, a) in p.alerts.into_iter().enumerate() {
        match one_alert(a, &p.common_labels, &p.common_annotations) {
            Ok(alert) => alerts.push(alert),
            Err(e) => refused.push(format!("alerts[{i}]: {e}")),
        }
    }
    let batch = Batch {
        source: Source::Alertmanager,
        alerts,
        truncated: p.truncated_alerts,
        group_key: p.group_key.map(|g| cut(&g)),
        receiver: p.receiver.map(|r| cut(&r)),
        external_url: p.external_url.filter(|u| !u.is_empty()).map(|u| cut(&u)),
    };
    Ok((batch, refused))
}

/// One alert of a payload, its labels and annotations over the payload's common ones.
fn one_alert(
    a: AmAlert,
    common_labels: &BTreeMap<String, String>,
    common_annotations: &BTreeMap<String, String>,
) -> Result<Alert, String> {
    let mut labels = common_labels.clone();
    labels.extend(a.labels);
    let mut annotations = common_annotations.clone();
    annotations.extend(a.annotations);
    let labels = clean_map("labels", labels)?;
    let fingerprint = match a.fingerprint.filter(|f| !f.is_empty()) {
        Some(f) => token(&f).ok_or_else(|| format!("fingerprint {:?} is not a token", clip(&f)))?,
        None => hash_labels(&labels),
    };
    Ok(Alert {
        status: status(Some(&a.status))?,
        fingerprint,
        labels,
        annotations: clean_map("annotations", annotations)?,
        starts_at: time("startsAt", a.starts_at.as_deref())?,
        ends_at: time("endsAt", a.ends_at.as_deref())?,
        generator_url: a.generator_url.filter(|u| !u.is_empty()).map(|u| cut(&u)),
    })
}

fn from_generic(g: GenericAlert) -> Result<Alert, String> {
    let mut labels = g.labels;
    let mut annotations = g.annotations;
    match g.title.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => {
            labels.entry("alertname".into()).or_insert_with(|| t.to_string());
            annotations.entry("summary".into()).or_insert_with(|| t.to_string());
        }
        _ if labels.is_empty() => return Err("a generic alert needs a `title` or `labels`".into()),
        _ => {}
    }
    let labels = clean_map("labels", labels)?;
    let fingerprint = match g.fingerprint.filter(|f| !f.is_empty()) {
        Some(f) => token(&f).ok_or_else(|| {
            format!(
                "fingerprint {:?} is not a token (A-Z a-z 0-9 . _ : -, up to 64)",
                clip(&f)
            )
        })?,
        None => hash_labels(&labels),
    };
    Ok(Alert {
        status: status(g.status.as_deref())?,
        fingerprint,
        labels,
        annotations: clean_map("annotations", annotations)?,
        starts_at: time("startsAt", g.starts_at.as_deref())?,
        ends_at: time("endsAt", g.ends_at.as_deref())?,
        generator_url: g.url.filter(|u| !u.is_empty()).map(|u| cut(&u)),
    })
}

fn status(s: Option<&str>) -> Result<Status, String> {
    match s.map(str::trim) {
        None | Some("firing") | Some("") => Ok(Status::Firing),
        Some("resolved") => Ok(Status::Resolved),
        Some(other) => Err(format!(
            "status {:?} is neither \"firing\" nor \"resolved\"",
            clip(other)
        )),
    }
}

/// An RFC 3339 time; Alertmanager's zero time (`0001-01-01T00:00:00Z`) means "none".
fn time(field: &str, s: Option<&str>) -> Result<Option<Millis>, String> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("{field} {:?} is not an RFC 3339 time", clip(s)))?
        .timestamp_millis();
    Ok((t > 0).then_some(t))
}

fn clean_map(what: &str, m: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    if m.len() > MAX_FIELDS {
        return Err(format!("{} {what}; at most {MAX_FIELDS}", m.len()));
    }
    Ok(m.into_iter().map(|(k, v)| (cut(&k), cut(&v))).collect())
}

/// At most [`MAX_VALUE`] bytes (on a character boundary), marked when cut.
fn cut(s: &str) -> String {
    if s.len() <= MAX_VALUE {
        return s.to_string();
    }
    let mut end = MAX_VALUE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn token(s: &str) -> Option<String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then(|| s.to_string())
}

/// A fingerprint for an alert that brought none: the first 16 hex digits of BLAKE3 over its
/// sorted labels (so the same labels always give the same fingerprint).
pub fn hash_labels(labels: &BTreeMap<String, String>) -> String {
    let mut h = blake3::Hasher::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update(b"\0");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    h.finalize().to_hex()[..16].to_string()
}

/// At most 40 characters of an untrusted value, for an error message (sanitised by the caller).
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const AM: &str = r#"{
      "version": "4", "groupKey": "{}:{alertname=\"DiskEncrypted\"}", "truncatedAlerts": 2,
      "status": "firing", "receiver": "warroom", "groupLabels": {"alertname": "DiskEncrypted"},
      "commonLabels": {"alertname": "DiskEncrypted", "severity": "critical"},
      "commonAnnotations": {"summary": "files renamed"}, "externalURL": "http://am:9093",
      "alerts": [{"status": "firing", "labels": {"instance": "fin-fs-02"},
        "annotations": {}, "startsAt": "2026-11-22T09:48:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph", "fingerprint": "a1b2c3d4e5f60718"}]
    }"#;

    #[test]
    fn alertmanager_payload_is_read() {
        let b = parse_documents(AM.as_bytes()).expect("parses").batches.remove(0);
        assert_eq!(b.source, Source::Alertmanager);
        assert_eq!(b.truncated, 2);
        let a = &b.alerts[0];
        assert_eq!(a.status, Status::Firing);
        assert_eq!(a.fingerprint, "a1b2c3d4e5f60718");
        assert_eq!(a.labels["alertname"], "DiskEncrypted");
        assert_eq!(a.labels["instance"], "fin-fs-02");
        assert_eq!(a.annotations["summary"], "files renamed");
        assert_eq!(a.starts_at, Some(1_795_340_880_123));
        assert_eq!(a.ends_at, None, "Alertmanager's zero time is no time");
    }

    #[test]
    fn generic_alert_is_read_and_fingerprinted_by_labels() {
        let one = parse_documents(br#"{"title":"Disk full","labels":{"host":"db1"}}"#)
            .expect("parses")
            .batches;
        let two = parse_documents(br#"{"labels":{"host":"db1","alertname":"Disk full"},"status":"firing"}"#)
            .expect("parses")
            .batches;
        assert_eq!(one[0].alerts[0].fingerprint, two[0].alerts[0].fingerprint);
        assert_eq!(one[0].alerts[0].fingerprint.len(), 16);
        let lines = parse_documents(b"{\"title\":\"a\"}\n{\"title\":\"b\",\"status\":\"resolved\"}\n")
            .expect("parses")
            .batches;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].alerts[0].status, Status::Resolved);
    }

    #[test]
    fn bad_documents_say_why() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "the body is empty"),
            (b"[1]", "expected a JSON object"),
            (b"{", "not JSON"),
            (b"\xff", "the body is not UTF-8"),
            (
                br#"{"version":"3","alerts":[]}"#,
                "Alertmanager payload version \"3\" is not supported",
            ),
            (br#"{"version":"4"}"#, "Alertmanager payload: missing field `alerts`"),
            (
                br#"{"version":"4","alerts":[{"status":"on fire"}]}"#,
                "alerts[0]: status \"on fire\"",
            ),
            (
                br#"{"version":"4","alerts":[{"status":"firing","startsAt":"yesterday"}]}"#,
                "alerts[0]: startsAt \"yesterday\" is not an RFC 3339 time",
            ),
            (
                br#"{"version":"4","alerts":[{"status":"firing","fingerprint":"a b"}]}"#,
                "alerts[0]: fingerprint \"a b\" is not a token",
            ),
            (br#"{"annotations":{}}"#, "a generic alert needs a `title` or `labels`"),
            (
                br#"{"title":"x","sevrity":1}"#,
                "generic alert: unknown field `sevrity`",
            ),
        ];
        for (raw, want) in cases {
            match parse_documents(raw) {
                Err(e) => assert!(e.starts_with(want), "{e} (wanted {want})"),
                Ok(b) => panic!("accepted {raw:?}: {b:?}"),
            }
        }
    }

    /// One bad alert never costs the good ones (Alertmanager does not retry a 4xx): the good
    /// alerts are kept and each refused part is named.
    #[test]
    fn a_partly_bad_body_keeps_the_good_alerts_and_names_the_bad() {
        let am = br#"{"version":"4","alerts":[
            {"status":"firing","labels":{"alertname":"A"},"startsAt":"2026-11-30T06:00:00Z"},
            {"status":"firing","labels":{"alertname":"B"},"startsAt":"soon"},
            {"status":"firing","labels":{"alertname":"C"},"startsAt":"2026-11-30T06:01:00Z"}]}"#;
        let p = parse_documents(am).expect("two good alerts");
        let names: Vec<&str> = p.batches[0]
            .alerts
            .iter()
            .map(|a| a.labels["alertname"].as_str())
            .collect();
        assert_eq!(names, ["A", "C"]);
        assert_eq!(p.refused.len(), 1);
        assert!(
            p.refused[0].starts_with("alerts[1]: startsAt \"soon\""),
            "{:?}",
            p.refused
        );

        let lines = b"{\"title\":\"a\"}\n{\"title\":\"b\",\"startsAt\":\"soon\"}\nnot json\n{\"title\":\"d\"}\n";
        let p = parse_documents(lines).expect("the first document is good");
        assert_eq!(p.batches.len(), 1, "a syntax error ends the stream: {p:?}");
        assert!(p.refused[0].starts_with("document 2: startsAt"), "{:?}", p.refused);
        assert!(p.refused[1].starts_with("document 3: not JSON"), "{:?}", p.refused);
    }

    #[test]
    fn long_values_are_cut() {
        let long = "é".repeat(MAX_VALUE);
        let doc = serde_json::json!({"title": "x", "annotations": {"description": long}});
        let (b, _) = parse_document(doc).expect("parses");
        let d = &b.alerts[0].annotations["description"];
        assert!(d.len() <= MAX_VALUE + 3 && d.ends_with('…'));
    }
}
