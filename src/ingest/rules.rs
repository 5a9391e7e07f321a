//! Routing rules (RON): the first rule whose label patterns all match an alert decides whether
//! it declares an incident (with which playbook, severity and title) or annotates an open one,
//! or is ignored. Pure: no IO, table-tested.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::alert::Alert;
use crate::domain::sanitize;

/// The longest title a template may render.
pub const MAX_TITLE: usize = 120;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Named in the ingest's answers and log.
    pub name: String,
    /// Label → pattern; all must match. `*` matches any run of characters; `""` matches a label
    /// that is absent or empty.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub route: Route,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Route {
    /// Declare an incident (repeat firings of the alert then annotate it).
    Declare {
        playbook: String,
        /// 1 (critical) to 4 (low), unless `severities` maps the alert's `severity` label.
        severity: u8,
        /// The alert's `severity` label → 1..4, e.g. `{"critical": 1, "warning": 3}`.
        #[serde(default)]
        severities: BTreeMap<String, u8>,
        /// `{label}`, `{annotations.NAME}`, `{status}`, `{fingerprint}`; `{{` and `}}` are braces.
        title: String,
        /// Who commands the declared incident: a responder's name or a template like the title's
        /// (`"{oncall}"`, from a label the alert rule or Alertmanager sets). When it renders to no
        /// valid name (a missing or empty label), `ingest --commander`, else **no commander
        /// yet** — never the ingesting account, which would hold command nobody can take for
        /// 30 minutes.
        #[serde(default)]
        commander: Option<String>,
    },
    /// Add the alert to an open incident: the one named (an id or a unique prefix), else the
    /// most recently declared open real incident.
    Annotate {
        #[serde(default)]
        incident: Option<String>,
    },
    /// Drop the alert (it is still answered and logged).
    Ignore,
}

impl Rules {
    pub fn parse(file: &str, text: &str) -> Result<Rules, String> {
        let rules: Rules = crate::domain::ron_input::parse_ron_strict(text).map_err(|ds| {
            ds.iter()
                .map(|d| format!("{file}:{}:{}: {}", d.line, d.col, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        rules.validate().map_err(|e| format!("{file}: {e}"))?;
        Ok(rules)
    }

    fn validate(&self) -> Result<(), String> {
        if self.rules.is_empty() {
            return Err("no rules: every alert would be dropped".into());
        }
        for r in &self.rules {
            if let Route::Declare {
                playbook,
                severity,
                severities,
                title,
                ..
            } = &r.route
            {
                let bad = std::iter::once(severity)
                    .chain(severities.values())
                    .find(|s| !(1..=4).contains(*s));
                if let Some(s) = bad {
                    return Err(format!("rule `{}`: severity {s} is not 1..4", r.name));
                }
                if playbook.trim().is_empty() || title.trim().is_empty() {
                    return Err(format!("rule `{}`: a Declare needs a playbook and a title", r.name));
                }
            }
        }
        Ok(())
    }

    /// The first rule that matches the alert.
    pub fn route(&self, alert: &Alert) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(alert))
    }

    /// Playbooks the rules declare with (checked before listening).
    pub fn playbooks(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().filter_map(|r| match &r.route {
            Route::Declare { playbook, .. } => Some(playbook.as_str()),
            _ => None,
        })
    }
}

impl Rule {
    pub fn matches(&self, alert: &Alert) -> bool {
        self.labels.iter().all(|(k, pat)| {
            let v = alert.labels.get(k).map_or("", String::as_str);
            glob(pat, v)
        })
    }
}

/// The severity a Declare gives an alert: its `severity` label mapped, else the rule's.
pub fn severity(default: u8, severities: &BTreeMap<String, u8>, alert: &Alert) -> u8 {
    alert
        .labels
        .get("severity")
        .and_then(|s| severities.get(&s.to_lowercase()).or_else(|| severities.get(s)))
        .copied()
        .unwrap_or(default)
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    // Iterative matcher with one backtrack point (linear in practice, no recursion).
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The template with `{…}` filled from the alert (`?` for what it lacks); not yet sanitised.
fn fill(template: &str, alert: &Alert) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                for n in chars.by_ref() {
                    if n == '}' {
                        break;
                    }
                    name.push(n);
                }
                let name = name.trim();
                let value = match name {
                    "status" => Some(alert.status.word().to_string()),
                    "fingerprint" => Some(alert.fingerprint.clone()),
                    _ => match name.strip_prefix("annotations.") {
                        Some(a) => alert.annotations.get(a).cloned(),
                        None => alert.labels.get(name.strip_prefix("labels.").unwrap_or(name)).cloned(),
                    },
                };
                out.push_str(value.as_deref().unwrap_or("?"));
            }
            c => out.push(c),
        }
    }
    out
}

/// The commander a rule's template names for this alert: the filled template, trimmed and
/// lower-cased, if it is a valid responder name (`identity::valid_name`); `None` otherwise (a
/// missing label fills `?`, an empty one nothing: neither is a name).
pub fn render_commander(template: &str, alert: &Alert) -> Option<String> {
    let name = fill(template, alert).trim().to_lowercase();
    crate::domain::identity::valid_name(&name).then_some(name)
}

/// Fill a title template from the alert; the result is sanitised, one line, at most
/// [`MAX_TITLE`] characters, and never empty.
pub fn render_title(template: &str, alert: &Alert) -> String {
    let out = fill(template, alert);
    let clean = sanitize(&out);
    let mut title: String = clean.trim().chars().take(MAX_TITLE).collect();
    if title.trim().is_empty() {
        title = sanitize(alert.name()).trim().chars().take(MAX_TITLE).collect();
    }
    if title.is_empty() {
        title = "alert".into();
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::alert::Status;
    use proptest::prelude::*;

    fn alert(labels: &[(&str, &str)]) -> Alert {
        Alert {
            status: Status::Firing,
            fingerprint: "fp1".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: [("summary".to_string(), "files renamed".to_string())].into(),
            starts_at: None,
            ends_at: None,
            generator_url: None,
        }
    }

    #[test]
    fn the_shipped_example_loads() {
        let text = include_str!("../../assets/rules.ron");
        let rules = Rules::parse("assets/rules.ron", text).expect("example rules load");
        assert!(rules.playbooks().count() >= 1);
    }

    #[test]
    fn first_matching_rule_wins() {
        let text = r#"(rules: [
            (name: "ransom", labels: {"alertname": "Files*"}, route: Declare(playbook: "ransomware", severity: 2, severities: {"critical": 1}, title: "{alertname} on {instance}")),
            (name: "info", labels: {"severity": "info"}, route: Annotate()),
            (name: "tests", labels: {"env": "test"}, route: Ignore),
            (name: "rest", route: Declare(playbook: "ddos", severity: 3, title: "{alertname}")),
        ])"#;
        let rules = Rules::parse("r.ron", text).expect("parses");
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("alertname", "FilesEncrypted"), ("severity", "info")], "ransom"),
            (&[("alertname", "Disk"), ("severity", "info")], "info"),
            (&[("alertname", "Disk"), ("env", "test")], "tests"),
            (&[("alertname", "Disk")], "rest"),
        ];
        for (labels, want) in cases {
            let a = alert(labels);
            assert_eq!(rules.route(&a).map(|r| r.name.as_str()), Some(*want), "{labels:?}");
        }
        let Route::Declare {
            severity: s,
            severities,
            ..
        } = &rules.rules[0].route
        else {
            panic!("a Declare")
        };
        assert_eq!(severity(*s, severities, &alert(&[("severity", "CRITICAL")])), 1);
        assert_eq!(severity(*s, severities, &alert(&[("severity", "warning")])), 2);
    }

    #[test]
    fn bad_rules_are_refused_with_where() {
        let cases: &[(&str, &str)] = &[
            ("(rules: [])", "r.ron: no rules"),
            (
                r#"(rules: [(name: "x", route: Declare(playbook: "p", severity: 7, title: "t"))])"#,
                "severity 7",
            ),
            (
                r#"(rules: [(name: "x", route: Declare(playbook: "p", severity: 1, title: " "))])"#,
                "needs a playbook and a title",
            ),
            (r#"(rules: [(name: "x", lables: {}, route: Ignore)])"#, "r.ron:1:"),
            (r#"(rules: [(name: "x", route: Page)])"#, "r.ron:1:"),
        ];
        for (text, want) in cases {
            match Rules::parse("r.ron", text) {
                Err(e) => assert!(e.contains(want), "{e} (wanted {want})"),
                Ok(r) => panic!("accepted {text}: {r:?}"),
            }
        }
    }

    #[test]
    fn a_commander_template_gives_a_name_or_nothing() {
        let a = alert(&[("alertname", "X"), ("oncall", "Maya"), ("empty", ""), ("evil", "a b;c")]);
        assert_eq!(render_commander("{oncall}", &a).as_deref(), Some("maya"));
        assert_eq!(render_commander("pat", &a).as_deref(), Some("pat"));
        assert_eq!(render_commander("{missing}", &a), None, "a missing label is no name");
        assert_eq!(render_commander("{empty}", &a), None, "nor is an empty one");
        assert_eq!(render_commander("{evil}", &a), None);
    }

    #[test]
    fn titles_are_filled_and_clean() {
        let a = alert(&[("alertname", "FilesEncrypted"), ("instance", "fin\u{1b}[31m-fs\n02")]);
        assert_eq!(
            render_title("{alertname} on {instance}: {annotations.summary} {{x}} {missing}", &a),
            "FilesEncrypted on fin-fs ⏎ 02: files renamed {x} ?"
        );
        assert_eq!(render_title("{nothing", &alert(&[("alertname", "A")])), "?");
        assert_eq!(render_title("   ", &alert(&[("alertname", "A")])), "A");
        assert!(render_title(&"x".repeat(500), &a).chars().count() <= MAX_TITLE);
    }

    #[test]
    fn glob_table() {
        for (p, v, want) in [
            ("*", "", true),
            ("", "", true),
            ("", "x", false),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*fs-0*", "fin-fs-02", true),
            ("prod", "production", false),
            ("prod*", "production", true),
        ] {
            assert_eq!(glob(p, v), want, "{p} ~ {v}");
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_itself_on_literals(v in "[a-c*]{0,8}", w in "[a-c]{0,8}") {
            // A pattern without `*` matches exactly itself; `*` + anything matches any suffix.
            if !v.contains('*') {
                prop_assert_eq!(glob(&v, &w), v == w);
            }
            let (pat, val) = (format!("*{}", w), format!("{}{}", v.replace('*', ""), w));
            prop_assert!(glob(&pat, &val));
        }

        #[test]
        fn titles_never_carry_controls(s in any::<String>()) {
            let a = alert(&[("alertname", s.as_str())]);
            let t = render_title("{alertname}", &a);
            prop_assert!(!t.chars().any(|c| c.is_control()));
            prop_assert!(!t.is_empty() && t.chars().count() <= MAX_TITLE);
        }
    }
}
