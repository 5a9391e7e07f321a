//! Alerts in: Prometheus Alertmanager webhooks and generic JSON alerts become incidents and
//! timeline entries, routed by rules. Pure parts (payload → alerts, rules, the plan) apart from
//! the IO (the store writes, the HTTP server).

pub mod alert;
pub mod plan;
pub mod record;
pub mod rules;
pub mod server;
