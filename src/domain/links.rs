//! Links between incidents (`DuplicateOf`). A duplicate is hidden from the active board only when
//! its link leads, without a cycle, to an incident that exists and is not itself a duplicate:
//! `duplicate B --of A` then `duplicate A --of B` written by hand must not hide both.

use std::collections::{BTreeMap, BTreeSet};

/// The incidents whose duplicate link is broken: it leads back to itself (a cycle), or to an
/// incident that is not there. `links` maps every known incident id to the id it duplicates.
pub fn broken_duplicates(links: &BTreeMap<String, Option<String>>) -> BTreeSet<String> {
    let mut broken = BTreeSet::new();
    for (id, of) in links {
        let Some(mut next) = of.as_deref() else { continue };
        let mut path = vec![id.as_str()];
        loop {
            if path.contains(&next) {
                broken.insert(id.clone());
                break;
            }
            match links.get(next) {
                None => {
                    broken.insert(id.clone());
                    break;
                }
                Some(None) => break, // the root: an incident that is not a duplicate
                Some(Some(after)) => {
                    path.push(next);
                    next = after;
                }
            }
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.map(str::to_string)))
            .collect()
    }

    #[test]
    fn cycles_and_dangling_links_are_broken_chains_are_not() {
        let l = links(&[("a", Some("b")), ("b", Some("a")), ("c", None), ("d", Some("c"))]);
        assert_eq!(
            broken_duplicates(&l),
            ["a", "b"].iter().map(|s| s.to_string()).collect()
        );
        let l = links(&[("a", Some("b")), ("b", Some("c")), ("c", None), ("e", Some("gone"))]);
        assert_eq!(broken_duplicates(&l), ["e".to_string()].into_iter().collect());
        let l = links(&[("a", Some("a"))]);
        assert_eq!(broken_duplicates(&l).len(), 1);
    }
}
