//! `warroom report`: metrics over every incident in the shared directory. Read-only.

use std::collections::BTreeMap;

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::time::{parse_occurred, to_datetime};
use crate::report::summary;
use crate::store::incident::Incident;

pub fn report(g: &Global, since: Option<&str>, as_json: bool) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let now = now_ms();
    let since = since
        .map(|t| parse_occurred(t, to_datetime(now), &ctx.zone).map_err(Fail::new))
        .transpose()?;
    let (ids, problems) = ctx.store.list_incidents()?;
    for p in &problems {
        eprintln!("problem: {p}");
    }
    let mut rows = Vec::new();
    let mut excluded: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let inc = Incident::open(&ctx.store, id, now);
        match summary::row(id, &inc.state, now) {
            Some(r) => rows.push(r),
            None => {
                let mut why = summary::excluded(&inc.state).unwrap_or("not declared");
                if why == "syncing" {
                    // A claim that is there but cannot be read is not "syncing": say so, name it.
                    for p in inc.problems().iter().filter(|p| p.source.ends_with("incident.ron")) {
                        why = "unreadable";
                        eprintln!("problem: {}: {}", p.source, p.what);
                    }
                }
                *excluded.entry(why.to_string()).or_insert(0) += 1;
            }
        }
    }
    let s = summary::summarize(rows, since, excluded, now);
    if as_json {
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        v["v"] = serde_json::json!(1);
        crate::domain::sanitize::sanitize_json(&mut v);
        outln!("{v}");
    } else {
        eprintln!("shared directory: {}", ctx.store.describe());
        super::print_out(&summary::text(&s));
    }
    Ok(())
}
