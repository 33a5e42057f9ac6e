//! Broker cases: the suite plays the registry (it sends the node lists) and the services
//! (listeners that record deliveries).

use std::time::Duration;

use serde_json::{json, Value};
use uhome_protocol::core_events::{NODES, PUBLISH, SUBSCRIBE, UNSUBSCRIBE};

use super::{case, Case};
use crate::case::{violation, CaseFuture, CaseResult, Level::*, Problem, Role::Broker};
use crate::ctx::Ctx;
use crate::peers::{Mode, Peer};
use crate::wire::{Reply, Request};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case("UH-BROKER-4/subscribe-needs-registration", &["UH-BROKER-4"], Must, Broker,
            "a subscribe from a node id not in the list is refused not_registered, reason \"Node is not registered\"", needs_registration),
        case("UH-BROKER-1/nodes-replaces-the-list", &["UH-BROKER-1", "UH-BROKER-4"], Must, Broker,
            "µHome.core.nodes is answered nodes_updated with the verbatim message, and its nodes can subscribe", nodes_then_subscribe),
        case("UH-BROKER-7/matching-subscribers-once", &["UH-BROKER-7", "UH-BROKER-9"], Must, Broker,
            "a publish reaches every matching subscriber exactly once (also with two matching patterns) and no one else; the report counts them", matching_once),
        case("UH-BROKER-7/delivered-event", &["UH-BROKER-7"], Must, Broker,
            "the delivered event is version 2, status 1, with the publisher's id and source, the published type and data", delivered_event),
        case("UH-BROKER-3/wildcards", &["UH-BROKER-3", "UH-BROKER-7"], Must, Broker,
            "* matches one token and > one or more trailing tokens", wildcards),
        case("UH-BROKER-5/unsubscribe", &["UH-BROKER-5"], Must, Broker,
            "unsubscribe removes exactly that pattern and says whether it was there", unsubscribe),
        case("UH-BROKER-8/dead-subscriber", &["UH-BROKER-8", "UH-BROKER-9"], Must, Broker,
            "a subscriber that is gone is reported failed, the others are delivered, the broker keeps serving", dead_subscriber),
        case("UH-BROKER-8/silent-subscriber", &["UH-BROKER-8", "UH-SECURITY-4"], Must, Broker,
            "a subscriber that never replies does not hold up delivery to the others and is reported failed", silent_subscriber),
        case("UH-BROKER-2/list-update-drops-removed", &["UH-BROKER-2"], Must, Broker,
            "a new list keeps the subscriptions of kept nodes and drops those of removed nodes", list_update),
        case("UH-BROKER-1/refused-list-unchanged", &["UH-BROKER-1"], Must, Broker,
            "a list that repeats a node id is refused invalid_data and leaves the list as it was (its node can still subscribe)", refused_list),
        case("UH-BROKER-6/publisher-need-not-be-registered", &["UH-BROKER-6", "UH-BROKER-9"], Must, Broker,
            "a publish from a node id not in the list is answered published", unlisted_publisher),
        case("UH-BROKER-11/silent-subscriber-holds-its-own-slots", &["UH-BROKER-11", "UH-SECURITY-4"], Must, Broker,
            "while 300 publishes wait on a subscriber that never replies, publishes of another type are delivered and answered before any of them", fair_slots),
        case("UH-BROKER-12/wait-false-answered-before-delivery", &["UH-BROKER-12"], Must, Broker,
            "a publish with wait false is answered queued, with the count of deliveries started, before a silent subscriber's delivery ends, and the others are delivered", queued_publish),
        case("UH-BROKER-13/a-connection-per-delivery", &["UH-BROKER-13", "UH-BROKER-7"], Must, Broker,
            "to a node listed without keepAlive every delivery comes on its own connection; to one listed with keepAlive true every delivery arrives, on connections that may be kept", connection_per_delivery),
    ]
}

const REGISTRY: &str = "µHome/core/serviceRegistry";

async fn set_list(ctx: &Ctx, nodes: &[&Peer]) -> CaseResult {
    let list: Vec<Value> = nodes
        .iter()
        .map(|n| json!({"nodeId": n.id(), "address": n.addr()}))
        .collect();
    let reply = ctx
        .call(&Request::new(NODES, Some(json!({"nodes": list}))).from(REGISTRY))
        .await?;
    reply.must_be(1, "nodes_updated", Some("Succesfully updated active nodes"))
}

async fn subscribe(ctx: &Ctx, node: &Peer, pattern: &str) -> Result<Reply, Problem> {
    ctx.call(&Request::new(SUBSCRIBE, Some(json!({"subscribe": pattern}))).from(node.id()))
        .await
}

async fn subscribed(ctx: &Ctx, node: &Peer, pattern: &str) -> CaseResult {
    subscribe(ctx, node, pattern).await?.must_be(
        1,
        "subscribed",
        Some("Successful subscribed to event"),
    )
}

/// Publishes and returns (delivered, failed).
async fn publish(
    ctx: &Ctx,
    source: &str,
    event_type: &str,
    data: Option<Value>,
) -> Result<(u64, Vec<String>), Problem> {
    let body = match data {
        Some(data) => json!({"type": event_type, "data": data}),
        None => json!({"type": event_type}),
    };
    let reply = ctx
        .call(&Request::new(PUBLISH, Some(body)).from(source))
        .await?;
    reply.must_be(1, "published", Some("Event published"))?;
    let data = reply.data.clone().unwrap_or_default();
    let delivered = data
        .get("delivered")
        .and_then(Value::as_u64)
        .ok_or_else(|| violation("delivered, a count", reply.summary()))?;
    let mut failed: Vec<String> = data
        .get("failed")
        .and_then(Value::as_array)
        .ok_or_else(|| violation("failed, an array", reply.summary()))?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    failed.sort();
    Ok((delivered, failed))
}

/// How many events of `event_type` each peer got, after a short settle.
async fn counts(peers: &[&Peer], event_type: &str) -> Vec<usize> {
    tokio::time::sleep(Duration::from_millis(150)).await;
    peers
        .iter()
        .map(|p| p.received_of(event_type).len())
        .collect()
}

fn needs_registration(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("stranger", Mode::Healthy).await?;
        set_list(ctx, &[]).await?;
        let reply = subscribe(ctx, &node, "a.b").await?;
        reply.must_be(
            2,
            "not_registered",
            Some("Failed to subscribe for microservice to event"),
        )?;
        reply.must_give_reason("Node is not registered")?;
        Ok(())
    })
}

fn nodes_then_subscribe(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("member", Mode::Healthy).await?;
        set_list(ctx, &[&node]).await?;
        subscribed(ctx, &node, "a.b").await?;
        subscribed(ctx, &node, "a.b").await
    })
}

fn matching_once(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (a, b, c) = (
            ctx.peer("a", Mode::Healthy).await?,
            ctx.peer("b", Mode::Healthy).await?,
            ctx.peer("c", Mode::Healthy).await?,
        );
        set_list(ctx, &[&a, &b, &c]).await?;
        subscribed(ctx, &a, "home.lamp").await?;
        subscribed(ctx, &b, "home.lamp").await?;
        subscribed(ctx, &b, "home.*").await?;
        subscribed(ctx, &c, "garden.lamp").await?;
        let (delivered, failed) = publish(
            ctx,
            &ctx.node_id("switch"),
            "home.lamp",
            Some(json!({"on": true})),
        )
        .await?;
        let got = counts(&[&a, &b, &c], "home.lamp").await;
        if got != [1, 1, 0] {
            return Err(violation(
                "deliveries a 1, b 1 (two patterns, once), c 0",
                format!("{got:?}"),
            ));
        }
        if (delivered, failed.len()) != (2, 0) {
            return Err(violation(
                "delivered 2, failed []",
                format!("delivered {delivered}, failed {failed:?}"),
            ));
        }
        Ok(())
    })
}

fn delivered_event(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let a = ctx.peer("receiver", Mode::Healthy).await?;
        set_list(ctx, &[&a]).await?;
        subscribed(ctx, &a, "evt.check").await?;
        let publisher = ctx.node_id("publisher");
        let request = Request::new(
            PUBLISH,
            Some(json!({"type": "evt.check", "data": {"n": [1, "two"]}})),
        )
        .from(&publisher);
        ctx.call(&request).await?.must_be(1, "published", None)?;
        let got = a.received_of("evt.check");
        let Some(event) = got.first() else {
            return Err(violation("a delivery", "none"));
        };
        let checks = [
            (event.header == (2, 1), format!("header {:?}", event.header)),
            (
                event.id == request.id,
                format!("id {:?}, published {:?}", event.id, request.id),
            ),
            (
                event.source == publisher,
                format!("source {:?}", event.source),
            ),
            (
                event.data == Some(json!({"n": [1, "two"]})),
                format!("data {:?}", event.data),
            ),
        ];
        for (ok, actual) in checks {
            if !ok {
                return Err(violation(
                    "version 2, status 1, the publisher's id and source, the published data",
                    actual,
                ));
            }
        }
        Ok(())
    })
}

fn wildcards(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (star, gt, top) = (
            ctx.peer("star", Mode::Healthy).await?,
            ctx.peer("gt", Mode::Healthy).await?,
            ctx.peer("top", Mode::Healthy).await?,
        );
        set_list(ctx, &[&star, &gt, &top]).await?;
        subscribed(ctx, &star, "w.*").await?;
        subscribed(ctx, &gt, "w.>").await?;
        subscribed(ctx, &top, "*").await?;
        let source = ctx.node_id("w-publisher");
        let cases = [
            ("w", [0, 0, 1]),
            ("w.a", [1, 1, 0]),
            ("w.a.b", [0, 1, 0]),
            ("x.a", [0, 0, 0]),
        ];
        for (event_type, want) in cases {
            publish(ctx, &source, event_type, None).await?;
            let got = counts(&[&star, &gt, &top], event_type).await;
            if got != want {
                return Err(violation(
                    format!(
                        "{event_type}: w.* {}, w.> {}, * {}",
                        want[0], want[1], want[2]
                    ),
                    format!("{got:?}"),
                ));
            }
        }
        Ok(())
    })
}

fn unsubscribe(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("quitter", Mode::Healthy).await?;
        set_list(ctx, &[&node]).await?;
        subscribed(ctx, &node, "u.a").await?;
        subscribed(ctx, &node, "u.*").await?;
        let call = |pattern: &'static str| {
            Request::new(UNSUBSCRIBE, Some(json!({"unsubscribe": pattern}))).from(node.id())
        };
        for (pattern, removed) in [("u.a", true), ("u.a", false)] {
            let reply = ctx.call(&call(pattern)).await?;
            reply.must_be(
                1,
                "unsubscribed",
                Some("Successfully unsubscribed from event"),
            )?;
            let got = reply
                .data
                .as_ref()
                .and_then(|d| d.get("removed"))
                .and_then(Value::as_bool);
            if got != Some(removed) {
                return Err(violation(format!("removed {removed}"), format!("{got:?}")));
            }
        }
        let source = ctx.node_id("u-publisher");
        publish(ctx, &source, "u.a", None).await?;
        if counts(&[&node], "u.a").await != [1] {
            return Err(violation("u.* still delivers u.a once", "not once"));
        }
        Ok(())
    })
}

fn dead_subscriber(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (alive, dead) = (
            ctx.peer("alive", Mode::Healthy).await?,
            ctx.peer("dead", Mode::Healthy).await?,
        );
        set_list(ctx, &[&alive, &dead]).await?;
        subscribed(ctx, &alive, "d.x").await?;
        subscribed(ctx, &dead, "d.x").await?;
        let dead_id = dead.id().to_string();
        dead.stop();
        let (delivered, failed) = publish(ctx, &ctx.node_id("d-publisher"), "d.x", None).await?;
        if (delivered, failed.clone()) != (1, vec![dead_id.clone()]) {
            return Err(violation(
                format!("delivered 1, failed [{dead_id}]"),
                format!("delivered {delivered}, failed {failed:?}"),
            ));
        }
        if counts(&[&alive], "d.x").await != [1] {
            return Err(violation("the live subscriber delivered", "not delivered"));
        }
        ctx.still_serving("a failed delivery").await
    })
}

fn silent_subscriber(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (fast, silent) = (
            ctx.peer("fast", Mode::Healthy).await?,
            ctx.peer("silent", Mode::Silent).await?,
        );
        set_list(ctx, &[&fast, &silent]).await?;
        subscribed(ctx, &fast, "s.x").await?;
        subscribed(ctx, &silent, "s.x").await?;
        let started = tokio::time::Instant::now();
        let publisher = ctx.node_id("s-publisher");
        let publishing = publish(ctx, &publisher, "s.x", None);
        let fast_delivered = async {
            fast.wait_for(Duration::from_secs(2), |r| {
                r.iter().any(|e| e.event_type == "s.x")
            })
            .await
        };
        let (report, fast_ok) = tokio::join!(publishing, fast_delivered);
        if !fast_ok {
            return Err(violation(
                "the responsive subscriber delivered at once",
                format!("nothing after {:?}", started.elapsed()),
            ));
        }
        let (delivered, failed) = report?;
        if (delivered, failed.clone()) != (1, vec![silent.id().to_string()]) {
            return Err(violation(
                format!("delivered 1, failed [{}]", silent.id()),
                format!("delivered {delivered}, failed {failed:?}"),
            ));
        }
        Ok(())
    })
}

fn list_update(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (kept, removed) = (
            ctx.peer("kept", Mode::Healthy).await?,
            ctx.peer("removed", Mode::Healthy).await?,
        );
        set_list(ctx, &[&kept, &removed]).await?;
        subscribed(ctx, &kept, "l.x").await?;
        subscribed(ctx, &removed, "l.x").await?;
        set_list(ctx, &[&kept]).await?;
        set_list(ctx, &[&kept, &removed]).await?;
        let (delivered, _) = publish(ctx, &ctx.node_id("l-publisher"), "l.x", None).await?;
        let got = counts(&[&kept, &removed], "l.x").await;
        if got != [1, 0] || delivered != 1 {
            return Err(violation(
                "kept delivered, removed (and re-added) not",
                format!("{got:?}, delivered {delivered}"),
            ));
        }
        Ok(())
    })
}

fn refused_list(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("steady", Mode::Healthy).await?;
        let other = ctx.peer("repeated", Mode::Healthy).await?;
        set_list(ctx, &[&node]).await?;
        // A list without the listed node: applying it would drop the node.
        let entry = json!({"nodeId": other.id(), "address": other.addr()});
        let twice = json!({"nodes": [entry, entry]});
        let reply = ctx
            .call(&Request::new(NODES, Some(twice)).from(REGISTRY))
            .await?;
        reply.must_be(2, "invalid_data", Some("Failed to update active nodes"))?;
        subscribed(ctx, &node, "r.x").await
    })
}

fn unlisted_publisher(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        set_list(ctx, &[]).await?;
        let (delivered, failed) = publish(ctx, &ctx.node_id("outsider"), "o.x", None).await?;
        if (delivered, failed.len()) != (0, 0) {
            return Err(violation(
                "delivered 0, failed []",
                format!("{delivered}, {failed:?}"),
            ));
        }
        Ok(())
    })
}

/// Publishes to a silent subscriber's type, each on its own connection, beyond the reference's
/// 256 deliveries in flight.
const FLOOD: usize = 300;

fn fair_slots(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (fast, silent) = (
            ctx.peer("fair-fast", Mode::Healthy).await?,
            ctx.peer("fair-silent", Mode::Silent).await?,
        );
        set_list(ctx, &[&fast, &silent]).await?;
        subscribed(ctx, &fast, "fair.fast").await?;
        subscribed(ctx, &silent, "fair.slow").await?;
        let publisher = ctx.node_id("fair-publisher");
        let answered = std::sync::atomic::AtomicUsize::new(0);
        let flood = futures_util::future::join_all((0..FLOOD).map(|_| async {
            let outcome = publish(ctx, &publisher, "fair.slow", None).await;
            answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            outcome
        }));
        let fast_publishes = async {
            // Let the flood reach the silent subscriber before publishing the other type.
            silent
                .wait_for(Duration::from_secs(2), |r| r.len() >= 16)
                .await;
            let mut reports = Vec::new();
            for n in 0..5 {
                reports.push(publish(ctx, &publisher, "fair.fast", Some(json!(n))).await);
            }
            (reports, answered.load(std::sync::atomic::Ordering::SeqCst))
        };
        let (_, (reports, flood_answered_before)) = tokio::join!(flood, fast_publishes);
        for report in reports {
            let (delivered, failed) = report?;
            if (delivered, failed.is_empty()) != (1, true) {
                return Err(violation(
                    "each publish of the other type delivered 1, failed []",
                    format!("delivered {delivered}, failed {failed:?}"),
                ));
            }
        }
        if flood_answered_before > 0 {
            return Err(violation(
                "the publishes of the other type answered while every delivery to the silent subscriber still waits",
                format!(
                    "{flood_answered_before} of the {FLOOD} publishes to the silent subscriber were answered first: its deliveries held the broker's slots"
                ),
            ));
        }
        ctx.still_serving("a flood of publishes to a silent subscriber")
            .await
    })
}

fn queued_publish(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (listener, silent) = (
            ctx.peer("queued-listener", Mode::Healthy).await?,
            ctx.peer("queued-silent", Mode::Silent).await?,
        );
        set_list(ctx, &[&listener, &silent]).await?;
        subscribed(ctx, &listener, "queued.x").await?;
        subscribed(ctx, &silent, "queued.x").await?;
        let publisher = ctx.node_id("queued-publisher");
        let reply = ctx
            .call(
                &Request::new(
                    PUBLISH,
                    Some(json!({"type": "queued.x", "data": 7, "wait": false})),
                )
                .from(&publisher),
            )
            .await?;
        reply.must_be(1, "queued", Some("Event queued"))?;
        let queued = reply.data.as_ref().and_then(|d| d.get("queued")).cloned();
        if queued != Some(json!(2)) {
            return Err(violation("queued: 2", reply.summary()));
        }
        let delivered = listener
            .wait_for(Duration::from_secs(2), |r| {
                r.iter()
                    .any(|e| e.event_type == "queued.x" && e.data == Some(json!(7)))
            })
            .await;
        if !delivered {
            return Err(violation(
                "the event delivered after the queued answer",
                "no delivery within 2 s",
            ));
        }
        Ok(())
    })
}

fn connection_per_delivery(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (plain, kept) = (
            ctx.peer("per-delivery", Mode::Healthy).await?,
            ctx.peer("kept-alive", Mode::Healthy).await?,
        );
        let list = json!({"nodes": [
            {"nodeId": plain.id(), "address": plain.addr()},
            {"nodeId": kept.id(), "address": kept.addr(), "keepAlive": true},
        ]});
        ctx.call(&Request::new(NODES, Some(list)).from(REGISTRY))
            .await?
            .must_be(1, "nodes_updated", Some("Succesfully updated active nodes"))?;
        subscribed(ctx, &plain, "conn.x").await?;
        subscribed(ctx, &kept, "conn.x").await?;
        let publisher = ctx.node_id("conn-publisher");
        for n in 0..5 {
            let (delivered, failed) = publish(ctx, &publisher, "conn.x", Some(json!(n))).await?;
            if (delivered, failed.is_empty()) != (2, true) {
                return Err(violation(
                    "delivered 2, failed []",
                    format!("delivered {delivered}, failed {failed:?}"),
                ));
            }
        }
        let per_connection = plain.requests_per_connection();
        if per_connection.iter().any(|&n| n != 1) || per_connection.len() != 5 {
            return Err(violation(
                "5 deliveries to the node without keepAlive, each on its own connection",
                format!("requests per connection: {per_connection:?}"),
            ));
        }
        let kept_got = kept.received_of("conn.x").len();
        if kept_got != 5 {
            return Err(violation(
                "5 deliveries to the node with keepAlive",
                format!("{kept_got}"),
            ));
        }
        Ok(())
    })
}
