//! What a case runs with.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::Audit;
use crate::case::{violation, CaseResult, Problem, Transcript};
use crate::peers::{Mode, Peer};
use crate::profile::Profile;
use crate::wire::{Conn, Reply, Request};

/// The context of one case.
pub struct Ctx {
    /// The node under test.
    pub target: String,
    /// Deadline of each read and write.
    pub timeout: Duration,
    /// What the node declares.
    pub profile: Profile,
    /// This case's transcript.
    pub transcript: Transcript,
    /// Prefix of node ids this run creates (unique per run).
    pub run_id: String,
    /// For registry targets: the broker the suite plays.
    pub broker: Option<std::sync::Arc<Peer>>,
    /// For service targets: how to start the service under test.
    pub service: Option<crate::launch::ServiceSetup>,
    /// Every reply of the run, checked ([`crate::audit`]).
    pub audit: Arc<Audit>,
    /// The ID of the case running.
    pub case_id: String,
}

impl Ctx {
    /// A new connection to the target.
    pub async fn conn(&self) -> Result<Conn, Problem> {
        Ok(Conn::open(&self.target, &self.transcript, self.timeout)
            .await?
            .audited(self.audit.clone(), &self.case_id))
    }

    /// One request on a new connection.
    pub async fn call(&self, request: &Request<'_>) -> Result<Reply, Problem> {
        self.conn().await?.call(&request.encode()).await
    }

    /// One frame's bytes on a new connection.
    pub async fn call_raw(&self, bytes: &[u8]) -> Result<Reply, Problem> {
        self.conn().await?.call(bytes).await
    }

    /// The node still answers a healthcheck from a new connection ([UH-EXCHANGE-8]).
    pub async fn still_serving(&self, after: &str) -> CaseResult {
        let request = Request::new(uhome_protocol::core_events::HEALTHCHECK, None);
        match self.call(&request).await {
            Ok(reply) if reply.status == 1 => Ok(()),
            Ok(reply) => Err(violation(
                format!("a healthy reply after {after}"),
                reply.summary(),
            )),
            Err(Problem::Harness(e)) | Err(Problem::Violation { actual: e, .. }) => Err(violation(
                format!("the node to keep serving after {after}"),
                e,
            )),
            Err(skip) => Err(skip),
        }
    }

    /// A node id unique to this run.
    pub fn node_id(&self, name: &str) -> String {
        format!("conformance/{}/{name}", self.run_id)
    }

    /// A service played by the suite, recorded into this case's transcript.
    pub async fn peer(&self, name: &str, mode: Mode) -> Result<Peer, Problem> {
        let peer = Peer::start(&self.node_id(name), "127.0.0.1:0", mode)
            .await
            .map_err(|e| Problem::Harness(format!("cannot listen for a peer: {e}")))?;
        peer.record_into(&self.transcript);
        Ok(peer)
    }
}
