//! The HTTP endpoints of `sluice run`, on `[http] listen`:
//!
//! - `GET /healthz`: 200 while the process is alive and no worker is wedged
//!   ([`Health::liveness`]), else 503; one line per finding.
//! - `GET /readyz`: 200 when the broker and the database answer, partitions
//!   are assigned and no stage is broken ([`Health::readiness`]), else 503
//!   with the failed checks.
//! - `GET /metrics`: every metric of [`crate::metrics`] in the Prometheus
//!   text format.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::health::{Health, Report};

/// Binds `listen` (a clear error when it cannot) and serves until
/// `shutdown`; returns the bound address (port 0 picks a free one).
pub async fn serve(listen: SocketAddr, health: Arc<Health>, shutdown: CancellationToken) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen} for /healthz, /readyz and /metrics ([http] listen): {e}")
    })?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health);
    tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    });
    tracing::info!(address = %bound, "serving /healthz, /readyz and /metrics");
    Ok(bound)
}

fn answer(report: Report) -> impl IntoResponse {
    let status = if report.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], report.lines.join("\n") + "\n")
}

async fn healthz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    answer(health.liveness())
}

async fn readyz(State(health): State<Arc<Health>>) -> impl IntoResponse {
    answer(health.readiness().await)
}

async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::handle().render())
}
