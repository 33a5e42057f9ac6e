//! Pushing the list to the broker ([UH-REGISTRY-4]) and the size rule for it
//! ([UH-REGISTRY-9]).

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uhome_protocol::core_events::NODES;
use uhome_protocol::reply::{Discovered, NodeList};
use uhome_protocol::{encode_event, Body, Envelope, Json, HEADER_LEN, MAX_PAYLOAD_LEN, V2};

use super::state::RegistryInner;
use super::LOG_TARGET;
use crate::config::{Backoff, PUSH_BACKOFF};
use crate::nodes::{self, NodeEntry};
use crate::reply::{encode_frame_vec, estimate, new_id, now, Reply};

/// Whether `list` fits in one `µHome.core.nodes` push and in one discover reply
/// ([UH-REGISTRY-9]), with `reserve` bytes to spare in each (a signed frame's `auth`).
pub(super) fn fits(source: &str, list: &[NodeEntry], reserve: usize) -> bool {
    let room = |frame: &[u8]| frame.len() + reserve <= HEADER_LEN + MAX_PAYLOAD_LEN;
    nodes_frame(source, list).is_ok_and(|f| room(&f))
        && Reply::data(&Discovered::new(&nodes::wire(list)))
            .try_encode(source)
            .is_ok_and(|f| room(&f))
}

/// The encoded `µHome.core.nodes` request carrying `list`, or `TooLarge`.
fn nodes_frame(source: &str, list: &[NodeEntry]) -> Result<bytes::Bytes, uhome_protocol::Error> {
    let entries = nodes::wire(list);
    let id = new_id();
    let timestamp = now();
    let envelope = Envelope {
        id: &id,
        timestamp: &timestamp,
        source,
        event_type: NODES,
    };
    let data = NodeList { nodes: &entries };
    let size = estimate(
        list.iter()
            .map(|n| n.node_id.len() + n.address.len() + 32)
            .sum::<usize>()
            + 128,
    );
    encode_frame_vec(size, |out| {
        encode_event(
            out,
            V2,
            uhome_protocol::status::OK,
            &envelope,
            Body::Data(&Json(&data)),
        )
    })
}

/// Pushes the wanted list to the broker whenever it changes, retrying with backoff while the
/// broker is down ([UH-REGISTRY-4]).
pub(super) async fn pusher(
    shared: Arc<RegistryInner>,
    attempted: watch::Sender<u64>,
    stop: CancellationToken,
) {
    let mut wanted = shared.wanted.subscribe();
    let mut backoff = Backoff::new(PUSH_BACKOFF);
    let mut pushed = 0u64;
    loop {
        let version = *wanted.borrow_and_update();
        if version > pushed {
            let ok = match &shared.config.broker {
                None => true,
                Some(broker) => push_once(&shared, broker).await,
            };
            attempted.send_if_modified(|v| {
                let changed = *v < version;
                *v = (*v).max(version);
                changed
            });
            if ok {
                pushed = version;
                backoff = Backoff::new(PUSH_BACKOFF);
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff.pause()) => continue,
                changed = wanted.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        } else {
            tokio::select! {
                changed = wanted.changed() => if changed.is_err() { return },
                () = stop.cancelled() => return,
            }
        }
    }
}

/// One push of the current list; whether the broker took it.
async fn push_once(shared: &RegistryInner, broker: &str) -> bool {
    let Ok(frame) = nodes_frame(&shared.config.id, &shared.list()) else {
        return false;
    };
    match shared.client.send_encoded(broker, frame).await {
        Ok(reply) => reply.status == uhome_protocol::status::OK,
        Err(e) => {
            tracing::debug!(target: LOG_TARGET, error = %e, "list push failed");
            false
        }
    }
}
