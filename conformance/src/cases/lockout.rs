//! [UH-EXCHANGE-17]: quiet connections held open do not lock other clients out.

use std::time::Duration;

use tokio::net::TcpStream;

use super::case;
use super::Case;
use crate::case::{CaseFuture, Level::Must, Problem, Role::Any};
use crate::ctx::Ctx;

/// The reference's bound ([UH-EXCHANGE-13]), assumed when the profile declares none.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Quiet connections held beyond the node's bound.
const BEYOND: usize = 64;

pub(super) fn cases() -> Vec<Case> {
    vec![case(
        "UH-EXCHANGE-17/quiet-connections-no-lockout",
        &["UH-EXCHANGE-17", "UH-EXCHANGE-8", "UH-SECURITY-2"],
        Must,
        Any,
        "with 64 more quiet connections held open by one client than the node serves (the profile's maxConnections, else 1024), a new client's healthcheck is answered",
        no_lockout,
    )]
}

/// Lets this process hold `connections` sockets (and, for the in-process reference, the
/// node's side of them).
fn allow_descriptors(connections: usize) -> Result<(), String> {
    let want = u64::try_from(2 * connections + 256).unwrap_or(u64::MAX);
    match rlimit::increase_nofile_limit(want) {
        Ok(soft) if soft >= want => Ok(()),
        Ok(soft) => Err(format!(
            "{want} file descriptors are needed and the limit is {soft} (raise the hard limit: ulimit -Hn)"
        )),
        Err(e) => Err(format!("cannot raise the descriptor limit: {e}")),
    }
}

fn no_lockout(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let bound = ctx
            .profile
            .max_connections
            .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let count = bound + BEYOND;
        allow_descriptors(count).map_err(Problem::Harness)?;
        let connect = || async {
            match tokio::time::timeout(ctx.timeout, TcpStream::connect(&ctx.target)).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) => Err(Problem::Harness(format!(
                    "cannot connect to {}: {e}",
                    ctx.target
                ))),
                Err(_) => Err(Problem::Harness(format!(
                    "connecting to {} timed out",
                    ctx.target
                ))),
            }
        };
        let mut quiet = Vec::with_capacity(count);
        for _ in 0..count {
            quiet.push(connect().await?);
        }
        ctx.still_serving(&format!(
            "{count} quiet connections held open by one client"
        ))
        .await?;
        drop(quiet);
        // Give the node a moment to see the closes before the next case.
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    })
}
