//! A Slack channel export: each day's file is a JSON array of messages with `ts` (epoch seconds
//! as a string, e.g. `"1732262880.000200"`), `user` or `user_name` (or a `user_profile`) and
//! `text`. Several days' arrays may follow one another (`cat 2026-11-*.json`). The message's
//! `ts` is kept as `occurred`, held to the same range rules as any imported time.

use serde::Deserialize;
use serde_json::Value;

use super::{Entry, Numbered};
use crate::domain::time::{check_range, Millis};

/// Messages that say someone joined or left, not what happened.
const NOISE: &[&str] = &[
    "channel_join",
    "channel_leave",
    "channel_purpose",
    "channel_topic",
    "bot_add",
];

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    ts: Option<Value>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    user_profile: Option<Profile>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    subtype: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `"1732262880.000200"` → milliseconds, or why not.
fn ts_ms(ts: &Value) -> Result<Millis, String> {
    let s = match ts {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("`ts` is not a Slack timestamp".into()),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
    let secs: i64 = secs
        .parse()
        .map_err(|_| format!("`ts` {:?} is not a Slack timestamp (seconds.micros)", clip(&s)))?;
    let ms_part: i64 = format!("{:0<3}", frac.chars().take(3).collect::<String>())
        .parse()
        .map_err(|_| format!("`ts` {:?} is not a Slack timestamp (seconds.micros)", clip(&s)))?;
    secs.checked_mul(1000)
        .and_then(|m| m.checked_add(ms_part))
        .ok_or_else(|| format!("`ts` {:?} is out of range", clip(&s)))
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Every message as an entry (numbered from 1 across all arrays), or why it is refused.
pub fn read(text: &str, now: Millis) -> Result<Vec<Numbered>, String> {
    let mut out = Vec::new();
    let mut n = 0;
    for doc in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let doc = doc.map_err(|e| format!("not a Slack export (JSON): {e}"))?;
        let Value::Array(messages) = doc else {
            return Err("not a Slack export: expected a JSON array of messages (one day's file)".into());
        };
        for m in messages {
            n += 1;
            out.push((n, message(m, now)));
        }
    }
    Ok(out)
}

fn message(v: Value, now: Millis) -> Result<Option<Entry>, String> {
    let m: Message = serde_json::from_value(v).map_err(|e| e.to_string())?;
    if m.subtype.as_deref().is_some_and(|s| NOISE.contains(&s)) {
        return Ok(None);
    }
    let text = m.text.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    let ts = m.ts.ok_or("no `ts`")?;
    let occurred = check_range(ts_ms(&ts)?, now).map_err(|e| format!("ts: {e}"))?;
    let author = m
        .user_name
        .or_else(|| {
            m.user_profile.and_then(|p| {
                [p.display_name, p.real_name, p.name]
                    .into_iter()
                    .flatten()
                    .find(|s| !s.trim().is_empty())
            })
        })
        .or(m.user)
        .filter(|s| !s.trim().is_empty());
    Ok(Some(Entry {
        text,
        author,
        occurred: Some(occurred),
        tags: vec!["slack".into()],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_795_400_000_000;

    #[test]
    fn a_days_export_is_read_with_its_times_and_authors() {
        let text = r#"[
          {"type":"message","user":"U1","text":"fin-fs-02 is encrypting","ts":"1795340880.000200","user_profile":{"real_name":"Maya K","display_name":""}},
          {"type":"message","subtype":"channel_join","user":"U2","text":"<@U2> has joined the channel","ts":"1795340890.000300"},
          {"type":"message","user":"U3","user_name":"jon","text":"isolating","ts":"1795340900.5"},
          {"type":"message","user":"U4","text":"","ts":"1795340910.000000"}
        ]
        [{"user":"U5","text":"next day","ts":"1795400000.000000"}]"#;
        let got = read(text, NOW).expect("reads");
        assert_eq!(got.len(), 5);
        let e = got[0].1.as_ref().expect("ok").as_ref().expect("an entry");
        assert_eq!(e.occurred, Some(1_795_340_880_000));
        assert_eq!(e.author.as_deref(), Some("Maya K"));
        assert!(matches!(got[1].1, Ok(None)), "joins are not entries");
        let jon = got[2].1.as_ref().expect("ok").as_ref().expect("entry");
        assert_eq!(
            (jon.author.as_deref(), jon.occurred),
            (Some("jon"), Some(1_795_340_900_500))
        );
        assert!(matches!(got[3].1, Ok(None)), "empty text is skipped");
        assert_eq!(got[4].0, 5, "numbered across days");
    }

    #[test]
    fn refusals_say_why() {
        assert!(read("{}", NOW).is_err_and(|e| e.contains("expected a JSON array")));
        let got = read(r#"[{"text":"a"},{"text":"b","ts":"soon"},{"text":"c","ts":"946684799.0"},{"text":"d","ts":"1895340880.0"}]"#, NOW)
            .expect("reads");
        let whys: Vec<String> = got.into_iter().map(|(_, r)| r.err().unwrap_or_default()).collect();
        assert_eq!(whys[0], "no `ts`");
        assert!(whys[1].contains("not a Slack timestamp"), "{}", whys[1]);
        assert!(whys[2].contains("before 2000"), "{}", whys[2]);
        assert!(whys[3].contains("in the future"), "{}", whys[3]);
    }
}
