//! CSV: a header row naming `time` and `text` (and optionally `author` and `tags`, in any order,
//! any case), then one entry a row. `time` is read like `--occurred` (RFC 3339,
//! `YYYY-MM-DDTHH:MM` in `--tz`, `HH:MM` today, relative); an empty time means "now". Tags are
//! separated by spaces, commas or semicolons.

use super::{Entry, Numbered};
use crate::domain::input::normalise_text;
use crate::domain::time::{bare_number_error, parse_occurred, to_datetime, Millis, Zone};

struct Columns {
    time: usize,
    text: usize,
    author: Option<usize>,
    tags: Option<usize>,
}

fn columns(header: &csv::StringRecord) -> Result<Columns, String> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
    };
    let (Some(time), Some(text)) = (find("time"), find("text")) else {
        return Err(format!(
            "the first row must name the columns: time,text[,author,tags] (found: {})",
            crate::domain::sanitize(&header.iter().collect::<Vec<_>>().join(","))
        ));
    };
    Ok(Columns {
        time,
        text,
        author: find("author"),
        tags: find("tags"),
    })
}

/// Every row as an entry, numbered by its line in the file, or why it is refused.
pub fn read(text: &str, now: Millis, zone: &Zone) -> Result<Vec<Numbered>, String> {
    let text = normalise_text(text);
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = r
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .clone();
    let cols = columns(&header)?;
    let mut out = Vec::new();
    for rec in r.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                out.push((line, row(&rec, &cols, now, zone)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.push((line, Err(e.to_string())));
            }
        }
    }
    Ok(out)
}

fn row(rec: &csv::StringRecord, cols: &Columns, now: Millis, zone: &Zone) -> Result<Option<Entry>, String> {
    let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map(str::trim).unwrap_or("");
    if rec.iter().all(|f| f.trim().is_empty()) {
        return Ok(None);
    }
    let text = get(Some(cols.text));
    if text.is_empty() {
        return Err("empty text".into());
    }
    let time = get(Some(cols.time));
    let occurred = if time.is_empty() {
        None
    } else if time.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("time: {}", bare_number_error(time)));
    } else {
        Some(parse_occurred(time, to_datetime(now), zone).map_err(|e| format!("time: {e}"))?)
    };
    let tags = get(cols.tags)
        .split([' ', ',', ';'])
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let author = Some(get(cols.author).to_string()).filter(|a| !a.is_empty());
    Ok(Some(Entry {
        text: rec.get(cols.text).unwrap_or_default().to_string(),
        author,
        occurred,
        tags,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_795_400_000_000;

    #[test]
    fn rows_are_read_in_any_column_order() {
        let text = "\u{feff}Author,Time,Text,Tags\r\nmaya,2026-11-22T09:48:00Z,\"first alert, from EDR\",edr;ioc\r\n,,\r\njon,,\"multi\nline\",\n";
        let got = read(text, NOW, &Zone::Utc).expect("reads");
        assert_eq!(got.len(), 3);
        let e = got[0].1.as_ref().expect("ok").as_ref().expect("entry");
        assert_eq!(e.text, "first alert, from EDR");
        assert_eq!(e.author.as_deref(), Some("maya"));
        assert_eq!(e.occurred, Some(1_795_340_880_000));
        assert_eq!(e.tags, ["edr", "ioc"]);
        assert!(matches!(got[1].1, Ok(None)), "a blank row is skipped");
        let j = got[2].1.as_ref().expect("ok").as_ref().expect("entry");
        assert_eq!((j.text.as_str(), j.occurred), ("multi\nline", None));
    }

    #[test]
    fn refusals_say_why() {
        assert!(read("when,what\n1,2\n", NOW, &Zone::Utc).is_err_and(|e| e.contains("time,text")));
        let got = read(
            "time,text\n1732000000,x\n1900-01-01T00:00:00Z,y\n2026-11-22T09:48:00Z,\nsoon,z\n",
            NOW,
            &Zone::Utc,
        )
        .expect("reads");
        let whys: Vec<(usize, String)> = got.into_iter().map(|(n, r)| (n, r.err().unwrap_or_default())).collect();
        assert!(whys[0].1.contains("bare number"), "{whys:?}");
        assert!(whys[1].1.contains("before 2000"), "{whys:?}");
        assert_eq!(whys[2], (4, "empty text".to_string()));
        assert!(whys[3].1.starts_with("time: cannot read time `soon`"), "{whys:?}");
    }
}
