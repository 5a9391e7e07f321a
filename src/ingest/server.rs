//! `warroom ingest --listen`: an HTTP endpoint (axum on tokio) for Alertmanager's webhook and
//! generic JSON alerts. Every bad request gets a 4xx with the reason; nothing a sender does can
//! crash it. Writes run on a blocking thread, one batch at a time.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::alert::parse_documents;
use super::record::Ingestor;
use crate::domain::sanitize;

/// The largest request body accepted by default (Alertmanager's payloads are a few KiB).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Called with the events written (the user's hooks).
pub type AfterWrite = Box<dyn Fn(&[(String, crate::domain::event::Event)]) + Send + Sync>;

/// What the handlers share.
pub struct Shared {
    pub ingestor: Mutex<Ingestor>,
    /// BLAKE3 of the shared secret, if one is required.
    pub secret: Option<blake3::Hash>,
    /// Called with the events written (hooks).
    pub after: AfterWrite,
}

pub fn router(shared: Arc<Shared>, max_body: usize) -> Router {
    Router::new()
        .route("/", post(receive).fallback(wrong_method))
        .route("/alerts", post(receive).fallback(wrong_method))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "no such endpoint: POST alerts to /alerts (or /)") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

/// Anything but POST where alerts are sent: a 405 with the reason in JSON, like every refusal.
async fn wrong_method() -> Response {
    refuse(StatusCode::METHOD_NOT_ALLOWED, "send alerts with POST")
}

fn refuse(code: StatusCode, why: &str) -> Response {
    let body = serde_json::json!({ "error": sanitize(why) });
    json(code, &body)
}

fn json(code: StatusCode, body: &serde_json::Value) -> Response {
    let ct = [(axum::http::header::CONTENT_TYPE, "application/json")];
    (code, ct, format!("{body}\n")).into_response()
}

/// Is the request carrying the shared secret (`Authorization: Bearer S` or `X-Warroom-Secret: S`)?
pub fn authorised(secret: Option<&blake3::Hash>, headers: &HeaderMap) -> bool {
    let Some(want) = secret else {
        return true;
    };
    let given = headers
        .get("x-warroom-secret")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    // blake3::Hash compares in constant time.
    given.is_some_and(|g| blake3::hash(g.trim().as_bytes()) == *want)
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !authorised(shared.secret.as_ref(), &headers) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong shared secret (Authorization: Bearer … or X-Warroom-Secret)",
        );
    }
    let bytes = match body {
        Ok(b) => b,
        Err(r) => {
            let code = r.status();
            let why = if code == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than this endpoint accepts (--max-body)".to_string()
            } else {
                format!("cannot read the request body: {}", r.body_text())
            };
            return refuse(code, &why);
        }
    };
    let parsed = match parse_documents(&bytes) {
        Ok(p) => p,
        Err(why) => {
            tracing::warn!(%why, "refused a request");
            eprintln!("warroom ingest: refused a request: {}", sanitize(&why));
            return refuse(StatusCode::BAD_REQUEST, &why);
        }
    };
    // The good alerts are recorded; each refused one is named in the answer (still 200, since
    // Alertmanager never retries a 4xx and the good ones must not be lost with the bad).
    for why in &parsed.refused {
        tracing::warn!(%why, "refused part of a request");
        eprintln!("warroom ingest: refused {}", sanitize(why));
    }
    let refused = parsed.refused;
    let batches = parsed.batches;
    let work = shared.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut ingestor = work.ingestor.lock().unwrap_or_else(|p| p.into_inner());
        let mut outcomes = Vec::new();
        for b in &batches {
            let (o, written) = ingestor.ingest(b)?;
            (work.after)(&written);
            outcomes.extend(o);
        }
        Ok::<_, String>(outcomes)
    })
    .await;
    match done {
        Ok(Ok(outcomes)) => {
            for o in &outcomes {
                eprintln!("warroom ingest: {}", o.line());
            }
            if refused.is_empty() {
                json(StatusCode::OK, &serde_json::json!({ "alerts": outcomes }))
            } else {
                json(
                    StatusCode::OK,
                    &serde_json::json!({ "alerts": outcomes, "refused": refused }),
                )
            }
        }
        Ok(Err(why)) => {
            tracing::error!(%why, "ingest failed");
            eprintln!("warroom ingest: failed: {}", sanitize(&why));
            refuse(StatusCode::INTERNAL_SERVER_ERROR, &why)
        }
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the ingest worker failed: {e}"),
        ),
    }
}

/// Serve until SIGINT or SIGTERM. Prints the address it listens on (first line of stdout).
pub async fn serve(addr: SocketAddr, shared: Arc<Shared>, max_body: usize) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on {local}");
    eprintln!("warroom ingest: listening on http://{local}/alerts");
    axum::serve(listener, router(shared, max_body))
        .with_graceful_shutdown(async {
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_in_either_header() {
        let want = blake3::hash(b"s3cret");
        let mut h = HeaderMap::new();
        assert!(authorised(None, &h));
        assert!(!authorised(Some(&want), &h));
        h.insert("authorization", "Bearer s3cret".parse().expect("header"));
        assert!(authorised(Some(&want), &h));
        let mut h = HeaderMap::new();
        h.insert("x-warroom-secret", "wrong".parse().expect("header"));
        assert!(!authorised(Some(&want), &h));
        h.insert("x-warroom-secret", "s3cret".parse().expect("header"));
        assert!(authorised(Some(&want), &h));
    }
}
