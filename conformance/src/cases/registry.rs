//! Registry cases: the suite plays services (listeners that answer health checks, or do not)
//! and the broker (a listener at the address the registry pushes its list to).

use std::time::Duration;

use serde_json::{json, Value};
use uhome_protocol::core_events::{DISCOVER, HEALTHCHECK, NODES, REGISTER, UNREGISTER};

use super::{case, Case};
use crate::case::{violation, CaseFuture, CaseResult, Level::*, Problem, Role::Registry};
use crate::ctx::Ctx;
use crate::peers::{Mode, Peer, Received};
use crate::wire::{Reply, Request};

pub(super) fn cases() -> Vec<Case> {
    let mut all = vec![
        case("UH-REGISTRY-1/health-checked-first", &["UH-REGISTRY-1", "UH-REGISTRY-3"], Must, Registry,
            "a registration is answered registered, with the verbatim message and the address, only after a health check of that address", register_checks_health),
        case("UH-REGISTRY-1/dead-address-unhealthy", &["UH-REGISTRY-1"], Must, Registry,
            "an address where nothing listens is refused unhealthy, reason \"Unhealthy service\", and not registered", dead_address),
        case("UH-REGISTRY-1/refusing-node-unhealthy", &["UH-REGISTRY-1"], Must, Registry,
            "a node that answers its health check with status 2 is refused unhealthy", refusing_node),
        case("UH-REGISTRY-1/source-may-differ", &["UH-REGISTRY-1"], Must, Registry,
            "a registration whose source differs from data.nodeId is not refused for it", source_differs),
        case("UH-REGISTRY-2/same-address-again", &["UH-REGISTRY-2"], Must, Registry,
            "registering a known node id again at the same address succeeds", same_address),
        case("UH-REGISTRY-2/healthy-old-address", &["UH-REGISTRY-2"], Must, Registry,
            "a known node id at a new address is refused already_registered while the old address is healthy", healthy_old_address),
        case("UH-REGISTRY-2/dead-old-address", &["UH-REGISTRY-2", "UH-REGISTRY-8"], Must, Registry,
            "a known node id at a new address replaces the entry when the old address fails its health check", dead_old_address),
        case("UH-REGISTRY-4/pushed-before-the-reply", &["UH-REGISTRY-4"], Must, Registry,
            "the list holding a new node reaches the broker before the registration is answered", pushed_before_reply),
        case("UH-REGISTRY-4/pushed-after-unregister", &["UH-REGISTRY-4", "UH-REGISTRY-7"], Must, Registry,
            "after an unregistration the broker receives a list without the node", pushed_after_unregister),
        case("UH-REGISTRY-4/push-retried", &["UH-REGISTRY-4"], Must, Registry,
            "while the broker is down a registration is still answered, and the list reaches the broker once it is back", push_retried),
        case("UH-REGISTRY-7/unregister", &["UH-REGISTRY-7"], Must, Registry,
            "unregister answers unregistered; an unknown node id is refused not_registered, reason \"Node is not registered\"", unregister_case),
        case("UH-REGISTRY-8/discover", &["UH-REGISTRY-8"], Must, Registry,
            "discover lists the nodes in registration order", discover),
        case("UH-REGISTRY-11/keep-alive-in-lists", &["UH-REGISTRY-11"], Must, Registry,
            "a node registered with keepAlive true is listed with \"keepAlive\": true in the pushed list and in discover; a node registered without it is listed without the member", keep_alive_in_lists),
    ];
    all.push(case("UH-REGISTRY-9/full", &["UH-REGISTRY-9", "UH-REPLY-12"], Must, Registry,
        "registrations that would make the list exceed one frame are refused registry_full, status 0, reason \"Registry is full\"; discover, the largest reply, still fits in one frame", full));
    all.push(case("UH-REGISTRY-5/eviction", &["UH-REGISTRY-5", "UH-REGISTRY-4"], Must, Registry,
        "a node that stops answering is evicted after the failed checks the profile declares (else within the bounds of the interval and threshold), and the broker's list follows", eviction));
    let mut round = case(
        "UH-REGISTRY-6/push-after-health-round",
        &["UH-REGISTRY-6"],
        Should,
        Registry,
        "the list is pushed again after a round of health checks, with no change",
        push_after_round,
    );
    round.info.feature = Some("pushAfterHealthRound".into());
    all.push(round);
    all
}

fn broker(ctx: &Ctx) -> Result<&Peer, Problem> {
    ctx.broker
        .as_deref()
        .ok_or_else(|| Problem::Harness("no broker listener for registry cases".into()))
}

async fn register(ctx: &Ctx, node_id: &str, address: &str) -> Result<Reply, Problem> {
    ctx.call(
        &Request::new(
            REGISTER,
            Some(json!({"nodeId": node_id, "address": address})),
        )
        .from(node_id),
    )
    .await
}

async fn unregister(ctx: &Ctx, node_id: &str) -> Result<Reply, Problem> {
    ctx.call(&Request::new(UNREGISTER, Some(json!({"nodeId": node_id}))).from(node_id))
        .await
}

fn is_registered(reply: &Reply, node_id: &str, address: &str) -> CaseResult {
    let message = format!("Successfully registered microservice '{node_id}'");
    reply.must_be(1, "registered", Some(&message))?;
    let got = reply
        .data
        .as_ref()
        .and_then(|d| d.get("address"))
        .and_then(Value::as_str);
    if got != Some(address) {
        return Err(violation(
            format!("address {address:?}"),
            format!("{got:?}"),
        ));
    }
    Ok(())
}

async fn listed(ctx: &Ctx) -> Result<Vec<(String, String)>, Problem> {
    let reply = ctx.call(&Request::new(DISCOVER, Some(json!({})))).await?;
    reply.must_be(1, "nodes", Some("Active nodes"))?;
    let nodes = reply
        .data
        .as_ref()
        .and_then(|d| d.get("nodes"))
        .and_then(Value::as_array)
        .cloned();
    let nodes = nodes.ok_or_else(|| violation("data.nodes, an array", reply.summary()))?;
    Ok(nodes
        .iter()
        .map(|n| {
            (
                n.get("nodeId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                n.get("address")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect())
}

fn list_of(push: &Received) -> Vec<(String, String)> {
    push.data
        .as_ref()
        .and_then(|d| d.get("nodes"))
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    (
                        n.get("nodeId")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        n.get("address")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A list without `node_id` reaches the broker within the case deadline.
async fn pushed_without(ctx: &Ctx, broker: &Peer, node_id: &str, expected: &str) -> CaseResult {
    let arrived = broker
        .wait_for(ctx.timeout, |r| {
            r.iter()
                .any(|p| p.event_type == NODES && !holds(p, node_id))
        })
        .await;
    if arrived {
        Ok(())
    } else {
        Err(violation(expected, "no such push"))
    }
}

fn holds(push: &Received, node_id: &str) -> bool {
    list_of(push).iter().any(|(id, _)| id == node_id)
}

fn register_checks_health(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("checked", Mode::Healthy).await?;
        let reply = register(ctx, node.id(), &node.addr()).await?;
        let answered = std::time::Instant::now();
        is_registered(&reply, node.id(), &node.addr())?;
        let checks = node.received_of(HEALTHCHECK);
        let result = match checks.first() {
            None => Err(violation(
                "a healthcheck to the address before the reply",
                "none",
            )),
            Some(check) if check.at > answered => {
                Err(violation("the healthcheck before the reply", "after"))
            }
            Some(check) if check.header != (2, 1) => Err(violation(
                "a version 2, status 1 healthcheck",
                format!("{:?}", check.header),
            )),
            Some(_) => Ok(()),
        };
        unregister(ctx, node.id()).await?;
        result
    })
}

async fn dead_addr() -> Result<String, Problem> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Problem::Harness(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Problem::Harness(e.to_string()))?;
    Ok(addr.to_string())
}

async fn expect_unhealthy(ctx: &Ctx, node_id: &str, address: &str) -> CaseResult {
    let reply = register(ctx, node_id, address).await?;
    reply.must_be(2, "unhealthy", Some("Failed to register microservice"))?;
    reply.must_give_reason("Unhealthy service")?;
    if listed(ctx).await?.iter().any(|(id, _)| id == node_id) {
        return Err(violation("not registered", "listed by discover"));
    }
    Ok(())
}

fn dead_address(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move { expect_unhealthy(ctx, &ctx.node_id("ghost"), &dead_addr().await?).await })
}

fn refusing_node(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("refusing", Mode::Refusing).await?;
        expect_unhealthy(ctx, node.id(), &node.addr()).await
    })
}

fn source_differs(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("other-source", Mode::Healthy).await?;
        let request = Request::new(
            REGISTER,
            Some(json!({"nodeId": node.id(), "address": node.addr()})),
        );
        let reply = ctx.call(&request).await?;
        is_registered(&reply, node.id(), &node.addr())?;
        unregister(ctx, node.id()).await?;
        Ok(())
    })
}

fn same_address(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("again", Mode::Healthy).await?;
        is_registered(
            &register(ctx, node.id(), &node.addr()).await?,
            node.id(),
            &node.addr(),
        )?;
        is_registered(
            &register(ctx, node.id(), &node.addr()).await?,
            node.id(),
            &node.addr(),
        )?;
        unregister(ctx, node.id()).await?;
        Ok(())
    })
}

fn healthy_old_address(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let old = ctx.peer("twin", Mode::Healthy).await?;
        let new = ctx.peer("twin-new", Mode::Healthy).await?;
        is_registered(
            &register(ctx, old.id(), &old.addr()).await?,
            old.id(),
            &old.addr(),
        )?;
        let reply = register(ctx, old.id(), &new.addr()).await?;
        let result = reply
            .must_be(
                2,
                "already_registered",
                Some("Failed to register microservice"),
            )
            .and_then(|()| reply.must_give_reason("Node already exists"));
        unregister(ctx, old.id()).await?;
        result
    })
}

fn dead_old_address(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let old = ctx.peer("moved", Mode::Healthy).await?;
        let new = ctx.peer("moved-new", Mode::Healthy).await?;
        let id = old.id().to_string();
        is_registered(&register(ctx, &id, &old.addr()).await?, &id, &old.addr())?;
        old.stop();
        is_registered(&register(ctx, &id, &new.addr()).await?, &id, &new.addr())?;
        let entries: Vec<_> = listed(ctx)
            .await?
            .into_iter()
            .filter(|(n, _)| *n == id)
            .collect();
        unregister(ctx, &id).await?;
        if entries != vec![(id.clone(), new.addr())] {
            return Err(violation(
                format!("one entry {id} at {}", new.addr()),
                format!("{entries:?}"),
            ));
        }
        Ok(())
    })
}

fn pushed_before_reply(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let broker = broker(ctx)?;
        broker.record_into(&ctx.transcript);
        let node = ctx.peer("pushed", Mode::Healthy).await?;
        let reply = register(ctx, node.id(), &node.addr()).await?;
        let answered = std::time::Instant::now();
        is_registered(&reply, node.id(), &node.addr())?;
        let pushes = broker.received_of(NODES);
        let result = match pushes.iter().find(|p| holds(p, node.id())) {
            Some(push) if push.at <= answered => Ok(()),
            Some(_) => Err(violation(
                "the list pushed before the reply",
                "pushed after the reply",
            )),
            None => Err(violation(
                "a µHome.core.nodes push holding the node before the reply",
                "none",
            )),
        };
        unregister(ctx, node.id()).await?;
        result
    })
}

fn pushed_after_unregister(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let broker = broker(ctx)?;
        broker.record_into(&ctx.transcript);
        let node = ctx.peer("leaving", Mode::Healthy).await?;
        is_registered(
            &register(ctx, node.id(), &node.addr()).await?,
            node.id(),
            &node.addr(),
        )?;
        broker.clear();
        unregister(ctx, node.id()).await?.must_be(
            1,
            "unregistered",
            Some(&format!(
                "Successfully unregistered microservice '{}'",
                node.id()
            )),
        )?;
        let id = node.id().to_string();
        pushed_without(
            ctx,
            broker,
            &id,
            "a list without the node pushed to the broker",
        )
        .await
    })
}

fn push_retried(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let broker = broker(ctx)?;
        broker.set_mode(Mode::Silent);
        let node = ctx.peer("while-down", Mode::Healthy).await?;
        let reply = register(ctx, node.id(), &node.addr()).await;
        broker.clear();
        broker.set_mode(Mode::Healthy);
        let reply = reply?;
        is_registered(&reply, node.id(), &node.addr())?;
        let id = node.id().to_string();
        let arrived = broker
            .wait_for(Duration::from_secs(15).max(ctx.timeout), |r| {
                r.iter().any(|p| p.event_type == NODES && holds(p, &id))
            })
            .await;
        unregister(ctx, node.id()).await?;
        if !arrived {
            return Err(violation(
                "the push retried until the broker answers",
                "no list with the node arrived",
            ));
        }
        Ok(())
    })
}

fn unregister_case(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("gone", Mode::Healthy).await?;
        is_registered(
            &register(ctx, node.id(), &node.addr()).await?,
            node.id(),
            &node.addr(),
        )?;
        let message = format!("Successfully unregistered microservice '{}'", node.id());
        unregister(ctx, node.id())
            .await?
            .must_be(1, "unregistered", Some(&message))?;
        if listed(ctx).await?.iter().any(|(id, _)| id == node.id()) {
            return Err(violation("the node no longer listed", "still listed"));
        }
        let reply = unregister(ctx, node.id()).await?;
        reply.must_be(
            2,
            "not_registered",
            Some("Failed to unregister microservice"),
        )?;
        reply.must_give_reason("Node is not registered")?;
        Ok(())
    })
}

fn discover(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let nodes = [
            ctx.peer("first", Mode::Healthy).await?,
            ctx.peer("second", Mode::Healthy).await?,
            ctx.peer("third", Mode::Healthy).await?,
        ];
        for node in &nodes {
            is_registered(
                &register(ctx, node.id(), &node.addr()).await?,
                node.id(),
                &node.addr(),
            )?;
        }
        let ours: Vec<(String, String)> = listed(ctx)
            .await?
            .into_iter()
            .filter(|(id, _)| nodes.iter().any(|n| n.id() == id))
            .collect();
        for node in &nodes {
            unregister(ctx, node.id()).await?;
        }
        let want: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n.id().to_string(), n.addr()))
            .collect();
        if ours != want {
            return Err(violation(
                format!("{want:?} in registration order"),
                format!("{ours:?}"),
            ));
        }
        Ok(())
    })
}

/// The longest health check interval of [UH-REGISTRY-5].
pub const MAX_HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// The largest eviction threshold of [UH-REGISTRY-5].
pub const MAX_EVICT_AFTER: u32 = 5;

fn eviction(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let declared = ctx.profile.health_interval.is_some();
        let interval = ctx.profile.health_interval.unwrap_or(MAX_HEALTH_INTERVAL);
        let after = ctx.profile.evict_after.unwrap_or(MAX_EVICT_AFTER);
        if interval > MAX_HEALTH_INTERVAL || after > MAX_EVICT_AFTER {
            return Err(violation(
                format!("a health interval of at most {MAX_HEALTH_INTERVAL:?} and a threshold of at most {MAX_EVICT_AFTER}"),
                format!("the profile declares {interval:?} and {after}"),
            ));
        }
        let broker = broker(ctx)?;
        broker.record_into(&ctx.transcript);
        let node = ctx.peer("fading", Mode::Healthy).await?;
        is_registered(
            &register(ctx, node.id(), &node.addr()).await?,
            node.id(),
            &node.addr(),
        )?;
        let settle = if declared {
            interval * 2
        } else {
            Duration::from_secs(2)
        };
        tokio::time::sleep(settle).await;
        if !listed(ctx).await?.iter().any(|(id, _)| id == node.id()) {
            return Err(violation(
                "a healthy node kept across health checks",
                "evicted while healthy",
            ));
        }
        let id = node.id().to_string();
        node.stop();
        broker.clear();
        let limit = interval * (after + 2) + ctx.timeout * after + Duration::from_secs(1);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if !listed(ctx).await?.iter().any(|(n, _)| *n == id) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(violation(
                    format!("evicted within {limit:?}"),
                    "still listed",
                ));
            }
            tokio::time::sleep((interval / 2).min(Duration::from_secs(1))).await;
        }
        pushed_without(
            ctx,
            broker,
            &id,
            "a list without the evicted node pushed to the broker",
        )
        .await
    })
}

fn push_after_round(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        if !ctx.profile.has("pushAfterHealthRound") {
            return Err(Problem::Skip(
                "the profile does not claim pushAfterHealthRound".into(),
            ));
        }
        let interval = ctx
            .profile
            .health_interval
            .ok_or_else(|| Problem::Skip("no healthInterval declared".into()))?;
        let broker = broker(ctx)?;
        broker.record_into(&ctx.transcript);
        broker.clear();
        if !broker
            .wait_for(interval * 3 + ctx.timeout, |r| {
                r.iter().any(|p| p.event_type == NODES)
            })
            .await
        {
            return Err(violation(
                format!("a push within {:?} with no change", interval * 3),
                "none",
            ));
        }
        Ok(())
    })
}

fn full(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let node = ctx.peer("filler", Mode::Healthy).await?;
        let base = ctx.node_id("full");
        let mut registered = Vec::new();
        let mut outcome = Err(violation(
            "registry_full before 1000 registrations of 255-character node ids",
            "every registration accepted",
        ));
        for i in 0..1000 {
            let id = format!(
                "{base}/{i:0>width$}",
                width = 255usize.saturating_sub(base.chars().count() + 1)
            );
            let reply = register(ctx, &id, &node.addr()).await?;
            if reply.status == 1 {
                registered.push(id);
                continue;
            }
            outcome = reply
                .must_be(0, "registry_full", Some("Failed to register microservice"))
                .and_then(|()| reply.must_give_reason("Registry is full"));
            ctx.transcript
                .note(&format!("full after {} registrations", registered.len()));
            break;
        }
        if outcome.is_ok() {
            outcome = listed(ctx).await.map(|_| ()).map_err(|e| match e {
                Problem::Violation { actual, .. } => {
                    violation("discover still answers when the registry is full", actual)
                }
                other => other,
            });
        }
        for id in &registered {
            unregister(ctx, id).await?;
        }
        outcome
    })
}

/// The `keepAlive` member of `node_id`'s entry in a list of node entries: `Some(None)` for an
/// entry without it, `None` when the node is not listed.
fn keep_alive_of(nodes: Option<&Value>, node_id: &str) -> Option<Option<Value>> {
    nodes?
        .as_array()?
        .iter()
        .find(|n| n.get("nodeId").and_then(Value::as_str) == Some(node_id))
        .map(|n| n.get("keepAlive").cloned())
}

fn keep_alive_in_lists(ctx: &Ctx) -> CaseFuture<'_> {
    Box::pin(async move {
        let (kept, plain) = (
            ctx.peer("keep-alive", Mode::Healthy).await?,
            ctx.peer("plain", Mode::Healthy).await?,
        );
        let reply = ctx
            .call(
                &Request::new(
                    REGISTER,
                    Some(json!({"nodeId": kept.id(), "address": kept.addr(), "keepAlive": true})),
                )
                .from(kept.id()),
            )
            .await?;
        is_registered(&reply, kept.id(), &kept.addr())?;
        is_registered(
            &register(ctx, plain.id(), &plain.addr()).await?,
            plain.id(),
            &plain.addr(),
        )?;
        let want = |list: Option<&Value>, what: &str| -> CaseResult {
            let (k, p) = (
                keep_alive_of(list, kept.id()),
                keep_alive_of(list, plain.id()),
            );
            if k != Some(Some(json!(true))) || p != Some(None) {
                return Err(violation(
                    format!(
                        "{what}: keepAlive true for {}, no keepAlive for {}",
                        kept.id(),
                        plain.id()
                    ),
                    format!("{k:?} and {p:?}"),
                ));
            }
            Ok(())
        };
        let discovered = ctx.call(&Request::new(DISCOVER, Some(json!({})))).await?;
        discovered.must_be(1, "nodes", Some("Active nodes"))?;
        want(
            discovered.data.as_ref().and_then(|d| d.get("nodes")),
            "discover",
        )?;
        let pushes = broker(ctx)?.received_of(NODES);
        let last = pushes
            .last()
            .and_then(|p| p.data.as_ref())
            .and_then(|d| d.get("nodes"));
        want(last, "the list pushed to the broker")?;
        for node in [&kept, &plain] {
            unregister(ctx, node.id()).await?;
        }
        Ok(())
    })
}
