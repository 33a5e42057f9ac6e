//! The service role ([UH-SERVICE-1] to [UH-SERVICE-8]): each case starts the service under
//! test against a registry and a broker the suite plays, scripts their replies, and judges
//! what the service sends them over time.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use uhome_protocol::core_events::{self, address_ok, RESERVED_PREFIX};

use super::{case, Case};
use crate::case::{violation, CaseResult, Level::Must, Problem, Role::Service};
use crate::ctx::Ctx;
use crate::launch::{MeshAddrs, Running, ServiceSetup};
use crate::mesh::{Entry, Happening, Mesh, Side};
use crate::wire::{Conn, Request};

/// From the start of the service to its first registration (a process may be slow to start).
pub const START_WAIT: Duration = Duration::from_secs(20);
/// For a step the service takes at once: a subscribe after its registration reply.
pub const STEP_WAIT: Duration = Duration::from_secs(10);
/// The longest first pause of a backoff, with 20 % jitter ([UH-SERVICE-6]).
pub const FIRST_PAUSE_MAX: Duration = Duration::from_millis(1200);
/// The longest pause at the cap, with 20 % jitter ([UH-SERVICE-6]).
pub const CAP_PAUSE_MAX: Duration = Duration::from_secs(36);
/// The shortest pause at the cap, with 20 % jitter ([UH-SERVICE-6]).
pub const CAP_PAUSE_MIN: Duration = Duration::from_millis(800);
/// Added to every time the suite measures: scheduling, connecting, reading a reply.
pub const SLACK: Duration = Duration::from_millis(150);
/// Measurement noise allowed when a pause must not be shorter than a bound (noise only
/// lengthens a measured pause: the service's reading of the refusal, its connecting again and
/// its scheduling fall inside it). A pause must not be longer than a bound by [`SLACK`].
pub const PAUSE_SLACK: Duration = Duration::from_millis(40);
/// The longest refresh interval the specification allows ([UH-SERVICE-7]).
pub const REFRESH_MAX: Duration = Duration::from_secs(30);
/// How long the registry and the broker stay down in the start-order case.
pub const DOWN_FOR: Duration = Duration::from_secs(2);
/// The registry's delay of its registration reply in the subscribe-order case.
pub const REPLY_DELAY: Duration = Duration::from_millis(800);
/// How long a service that declares no subscriptions is watched for one anyway.
pub const NONE_WAIT: Duration = Duration::from_secs(2);
/// Observation budget of the backoff case: pauses and total time.
const BACKOFF_PAUSES: usize = 12;
const BACKOFF_BUDGET: Duration = Duration::from_secs(60);

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "UH-SERVICE-1/listening-when-registering",
            &["UH-SERVICE-1"],
            Must,
            Service,
            "the suite as registry health-checks the registering address at once: healthy",
            |c| Box::pin(listening_when_registering(c)),
        ),
        case(
            "UH-SERVICE-2/register-data",
            &["UH-SERVICE-2"],
            Must,
            Service,
            "register: data.nodeId its id, data.address where it answers, source its id",
            |c| Box::pin(register_data(c)),
        ),
        case(
            "UH-SERVICE-2/no-subscribe-before-reply",
            &["UH-SERVICE-2"],
            Must,
            Service,
            "the registration reply is delayed 0.8 s: no subscribe reaches the broker before it",
            |c| Box::pin(no_subscribe_before_reply(c)),
        ),
        case(
            "UH-SERVICE-2/no-subscribe-after-refusal",
            &["UH-SERVICE-2"],
            Must,
            Service,
            "the first registration is refused unhealthy: no subscribe before one succeeds",
            |c| Box::pin(no_subscribe_after_refusal(c)),
        ),
        case(
            "UH-SERVICE-3/retries-not-registered",
            &["UH-SERVICE-3"],
            Must,
            Service,
            "the first two subscribes are refused not_registered: sent again until accepted",
            |c| Box::pin(retries_not_registered(c, false)),
        ),
        case(
            "UH-SERVICE-3/retries-legacy-not-registered",
            &["UH-SERVICE-3", "UH-SERVICE-8"],
            Must,
            Service,
            "refused as v0.0.1 does (no code, reason Node is not registered): sent again",
            |c| Box::pin(retries_not_registered(c, true)),
        ),
        case(
            "UH-SERVICE-4/answers-deliveries",
            &["UH-SERVICE-4"],
            Must,
            Service,
            "an event of a subscribed type, delivered: the handler's reply, not no_handler",
            |c| Box::pin(answers_deliveries(c)),
        ),
        case(
            "UH-SERVICE-5/unregisters-before-it-stops-listening",
            &["UH-SERVICE-5"],
            Must,
            Service,
            "an orderly stop: unregister for its id while its address still accepts",
            |c| Box::pin(unregisters_on_stop(c)),
        ),
        case(
            "UH-SERVICE-6/registry-and-broker-down-at-start",
            &["UH-SERVICE-6"],
            Must,
            Service,
            "registry and broker listen 2 s after the start: it registers and subscribes",
            |c| Box::pin(down_at_start(c)),
        ),
        case(
            "UH-SERVICE-6/capped-exponential-backoff",
            &["UH-SERVICE-6"],
            Must,
            Service,
            "registrations refused unhealthy: retried with capped exponential pauses, serving",
            |c| Box::pin(backoff(c)),
        ),
        case(
            "UH-SERVICE-7/re-registers-when-forgotten",
            &["UH-SERVICE-7"],
            Must,
            Service,
            "the registry forgets it: registered and subscribed again within the interval",
            |c| Box::pin(re_registers_when_forgotten(c)),
        ),
        case(
            "UH-SERVICE-7/re-subscribes-after-broker-restart",
            &["UH-SERVICE-7"],
            Must,
            Service,
            "the broker restarts without subscriptions: each sent again within the interval",
            |c| Box::pin(re_subscribes_after_broker_restart(c)),
        ),
        case(
            "UH-SERVICE-7/registers-again-where-discover-is-unknown",
            &["UH-SERVICE-7"],
            Must,
            Service,
            "a v0.0.1 registry (discover: no_handler): registration repeated within the interval",
            |c| Box::pin(registers_again_without_discover(c)),
        ),
        case(
            "UH-SERVICE-8/already-exists-counts-as-registered",
            &["UH-SERVICE-8"],
            Must,
            Service,
            "registration refused Node already exists without code: it goes on to subscribe",
            |c| Box::pin(already_exists_counts_as_registered(c)),
        ),
    ]
}

fn setup(ctx: &Ctx) -> Result<&ServiceSetup, Problem> {
    ctx.service.as_ref().ok_or_else(|| {
        Problem::Harness(
            "the service role's cases start the service under test: give --start-cmd".into(),
        )
    })
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The refresh interval the suite allows: the profile's, else the specification's bound.
fn refresh_interval(ctx: &Ctx) -> Duration {
    ctx.profile
        .refresh_interval
        .unwrap_or(REFRESH_MAX)
        .min(REFRESH_MAX)
}

/// Time within which a forgotten service is back ([UH-SERVICE-7]): one interval, plus the
/// exchanges and the suite's slack.
fn refresh_bound(ctx: &Ctx) -> Duration {
    let interval = refresh_interval(ctx);
    interval + interval / 5 + ctx.timeout + SLACK
}

/// One instance of the service against a mesh of its own.
struct Run<'c> {
    ctx: &'c Ctx,
    mesh: Mesh,
    instance: Option<Box<dyn Running>>,
}

impl<'c> Run<'c> {
    /// A mesh; its registry and broker listen when `listening`.
    async fn new(ctx: &'c Ctx, listening: bool) -> Result<Run<'c>, Problem> {
        let setup = setup(ctx)?;
        let mesh = Mesh::reserve(
            &setup.registry_listen,
            &setup.broker_listen,
            &ctx.transcript,
            ctx.timeout,
        )
        .await
        .map_err(Problem::Harness)?;
        if listening {
            mesh.listen(Side::Registry)
                .await
                .map_err(Problem::Harness)?;
            mesh.listen(Side::Broker).await.map_err(Problem::Harness)?;
        }
        Ok(Run {
            ctx,
            mesh,
            instance: None,
        })
    }

    /// Starts the service.
    async fn launch(&mut self) -> Result<(), Problem> {
        let setup = setup(self.ctx)?;
        let addrs = MeshAddrs {
            registry: self.mesh.registry_addr(),
            broker: self.mesh.broker_addr(),
        };
        self.mesh.note(&format!(
            "starting the service ({}) with registry {} and broker {}",
            setup.launcher.describe(),
            addrs.registry,
            addrs.broker
        ));
        let instance = setup
            .launcher
            .start(&addrs)
            .await
            .map_err(Problem::Harness)?;
        self.instance = Some(instance);
        Ok(())
    }

    /// ", and the service had ended (…)" when it has.
    fn ended(&mut self) -> String {
        self.instance
            .as_mut()
            .and_then(|i| i.exited())
            .map(|how| format!("; the service had ended ({how})"))
            .unwrap_or_default()
    }

    /// Stops the service in an orderly way; its output goes to the transcript.
    async fn stop(&mut self) -> Result<(), String> {
        let Some(mut instance) = self.instance.take() else {
            return Ok(());
        };
        let outcome = instance.stop().await;
        let output = instance.output();
        if !output.is_empty() {
            self.mesh
                .note(&format!("the service's last output lines:\n{output}"));
        }
        outcome
    }

    async fn finish(mut self, result: CaseResult) -> CaseResult {
        if let Err(e) = self.stop().await {
            self.mesh.note(&e);
        }
        result
    }

    /// Waits for a request of `event_type` to `side` after `after`.
    async fn request_after(
        &self,
        side: Side,
        event_type: &str,
        after: Instant,
        wait: Duration,
    ) -> Option<Entry> {
        self.mesh
            .wait_for(wait, |t| {
                t.iter()
                    .find(|e| e.at >= after && e.is_request(side, event_type))
                    .cloned()
            })
            .await
    }

    /// Waits for an accepted reply to `event_type` from `side` after `after`.
    async fn accepted_after(
        &self,
        side: Side,
        event_type: &str,
        after: Instant,
        wait: Duration,
    ) -> Option<Entry> {
        self.mesh
            .wait_for(wait, |t| {
                t.iter()
                    .find(|e| e.at >= after && e.is_reply(side, event_type) == Some(true))
                    .cloned()
            })
            .await
    }

    /// Waits for an accepted registration; returns its reply entry.
    async fn registered(&mut self, after: Instant, wait: Duration) -> Result<Entry, Problem> {
        match self
            .accepted_after(Side::Registry, core_events::REGISTER, after, wait)
            .await
        {
            Some(entry) => Ok(entry),
            None => {
                let sent = self
                    .mesh
                    .timeline()
                    .iter()
                    .filter(|e| {
                        e.at >= after && e.is_request(Side::Registry, core_events::REGISTER)
                    })
                    .count();
                Err(violation(
                    "the service to register with the suite's registry",
                    format!(
                        "no registration the registry accepted within {} ({sent} sent){}",
                        ms(wait),
                        self.ended()
                    ),
                ))
            }
        }
    }

    /// The patterns the service subscribes to: the profile's, else those it subscribed to
    /// (accepted) after `after`. `None` when the profile declares none.
    async fn patterns(&mut self, after: Instant) -> Result<Option<Vec<String>>, Problem> {
        if let Some(declared) = &self.ctx.profile.subscriptions {
            if declared.is_empty() {
                let any = self
                    .accepted_after(Side::Broker, core_events::SUBSCRIBE, after, NONE_WAIT)
                    .await;
                if any.is_none() {
                    return Ok(None);
                }
                self.mesh
                    .note("the profile declares no subscriptions, but the service subscribed");
                return Ok(Some(accepted_patterns(&self.mesh.timeline(), after)));
            }
            let accepted = self
                .mesh
                .wait_for(STEP_WAIT, |t| {
                    let have = accepted_patterns(t, after);
                    declared.iter().all(|p| have.contains(p)).then_some(have)
                })
                .await;
            return match accepted {
                Some(_) => Ok(Some(declared.clone())),
                None => Err(violation(
                    format!("subscribes to the profile's patterns {declared:?}"),
                    format!(
                        "accepted within {}: {:?}{}",
                        ms(STEP_WAIT),
                        accepted_patterns(&self.mesh.timeline(), after),
                        self.ended()
                    ),
                )),
            };
        }
        let first = self
            .accepted_after(Side::Broker, core_events::SUBSCRIBE, after, STEP_WAIT)
            .await;
        if first.is_none() {
            let ended = self.ended();
            return Err(Problem::Harness(format!(
                "the service sent no subscribe the broker accepted within {}{ended}: declare \
                 its `subscriptions` in the profile ([] for none)",
                ms(STEP_WAIT)
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Some(accepted_patterns(&self.mesh.timeline(), after)))
    }

    /// Registered, then subscribed to its patterns: (registration reply, patterns).
    async fn settled(&mut self) -> Result<(Entry, Option<Vec<String>>), Problem> {
        let start = Instant::now();
        self.launch().await?;
        let registered = self.registered(start, START_WAIT).await?;
        let patterns = self.patterns(registered.at).await?;
        Ok((registered, patterns))
    }
}

/// The profile declares that the service subscribes to nothing.
fn declares_none(ctx: &Ctx) -> bool {
    ctx.profile
        .subscriptions
        .as_ref()
        .is_some_and(Vec::is_empty)
}

/// A rule about subscribing, for a service that declares no subscriptions and sent none: it
/// cannot break it. PASS, with a note saying so.
fn nothing_to_judge(mesh: &Mesh) -> CaseResult {
    mesh.note(
        "the profile declares no subscriptions and the service sent none: this rule about \
         subscribing has nothing to judge",
    );
    Ok(())
}

/// Patterns of the subscribes the broker accepted after `after`.
fn accepted_patterns(timeline: &[Entry], after: Instant) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in timeline.iter().filter(|e| e.at >= after) {
        if e.is_reply(Side::Broker, core_events::SUBSCRIBE) == Some(true) {
            if let Some(p) = e.pattern() {
                if !out.iter().any(|q| q == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    out
}

/// The registration request a reply entry answered: the last one before it.
fn register_request_before(timeline: &[Entry], at: Instant) -> Option<Entry> {
    timeline
        .iter()
        .rev()
        .find(|e| e.at <= at && e.is_request(Side::Registry, core_events::REGISTER))
        .cloned()
}

fn str_member<'a>(entry: &'a Entry, name: &str) -> Option<&'a str> {
    entry.data()?.get(name)?.as_str()
}

fn source(entry: &Entry) -> Option<&str> {
    match &entry.what {
        Happening::Request { source, .. } => Some(source),
        _ => None,
    }
}

/// A type a pattern matches: `*` becomes a token, `>` two.
fn instance_of(pattern: &str) -> String {
    pattern
        .split('.')
        .map(|t| match t {
            "*" => "conformance",
            ">" => "conformance.delivery",
            t => t,
        })
        .collect::<Vec<_>>()
        .join(".")
}

async fn listening_when_registering(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let Some(request) = run
            .request_after(Side::Registry, core_events::REGISTER, start, START_WAIT)
            .await
        else {
            return Err(violation(
                "a µHome.core.register",
                format!("none within {}{}", ms(START_WAIT), run.ended()),
            ));
        };
        let check = run
            .mesh
            .wait_for(ctx.timeout * 2 + SLACK, |t| {
                t.iter()
                    .find(|e| e.at >= request.at && matches!(e.what, Happening::HealthCheck { .. }))
                    .cloned()
            })
            .await;
        match check.map(|e| e.what) {
            Some(Happening::HealthCheck { healthy: true, .. }) => Ok(()),
            Some(Happening::HealthCheck {
                address, summary, ..
            }) => Err(violation(
                format!(
                    "{address}, the registering address, to answer µHome.core.healthcheck with \
                     status 1, code healthy while the registration is pending"
                ),
                summary,
            )),
            _ => Err(violation(
                "a registration with a valid data.address to health-check",
                format!("{:?}", request.data()),
            )),
        }
    }
    .await;
    run.finish(result).await
}

async fn register_data(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let Some(request) = run
            .request_after(Side::Registry, core_events::REGISTER, start, START_WAIT)
            .await
        else {
            return Err(violation(
                "a µHome.core.register",
                format!("none within {}{}", ms(START_WAIT), run.ended()),
            ));
        };
        let node_id = str_member(&request, "nodeId");
        let address = str_member(&request, "address");
        let valid_id = node_id.is_some_and(|id| {
            let n = id.chars().count();
            (1..=core_events::MAX_NAME_CHARS).contains(&n)
        });
        if !valid_id || !address.is_some_and(address_ok) {
            return Err(violation(
                "data {\"nodeId\": a node id, \"address\": host:port} ([UH-CORE-4])",
                format!("data {:?}", request.data()),
            ));
        }
        if source(&request) != node_id {
            return Err(violation(
                format!("source {node_id:?}, the node id it registers"),
                format!("source {:?}", source(&request)),
            ));
        }
        let registered = run.registered(start, START_WAIT).await?;
        let registered_address = register_request_before(&run.mesh.timeline(), registered.at)
            .and_then(|r| str_member(&r, "address").map(str::to_string))
            .unwrap_or_default();
        let check = Request::new(core_events::HEALTHCHECK, None).from(core_events::REGISTRY_ID);
        let reply = Conn::open(&registered_address, &ctx.transcript, ctx.timeout)
            .await
            .map_err(|e| match e {
                Problem::Harness(why) => violation(
                    format!("the service to listen on its registered address {registered_address}"),
                    why,
                ),
                other => other,
            })?
            .call(&check.encode())
            .await?;
        if reply.status != 1 || reply.code() != Some("healthy") {
            return Err(violation(
                format!("{registered_address} to answer µHome.core.healthcheck: healthy"),
                reply.summary(),
            ));
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

/// The first subscribe that reached the broker before `at`, if any.
fn subscribe_before(timeline: &[Entry], from: Instant, at: Instant) -> Option<Entry> {
    timeline
        .iter()
        .find(|e| e.at >= from && e.at < at && e.is_request(Side::Broker, core_events::SUBSCRIBE))
        .cloned()
}

async fn no_subscribe_before_reply(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    run.mesh.registry_script(|s| s.delay_register = REPLY_DELAY);
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let registered = run.registered(start, START_WAIT + REPLY_DELAY).await?;
        let early = subscribe_before(&run.mesh.timeline(), start, registered.at);
        if let Some(early) = early {
            return Err(violation(
                "no µHome.core.subscribe before the registration reply",
                format!(
                    "a subscribe to {:?} {} before the reply was written",
                    early.pattern(),
                    ms(registered.at - early.at)
                ),
            ));
        }
        if !declares_none(ctx)
            && run
                .request_after(
                    Side::Broker,
                    core_events::SUBSCRIBE,
                    registered.at,
                    STEP_WAIT,
                )
                .await
                .is_none()
        {
            run.mesh
                .note("no subscribe after the registration reply either");
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn no_subscribe_after_refusal(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    run.mesh.registry_script(|s| s.refuse_register = 1);
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let refused = run
            .mesh
            .wait_for(START_WAIT, |t| {
                t.iter()
                    .find(|e| e.is_reply(Side::Registry, core_events::REGISTER) == Some(false))
                    .cloned()
            })
            .await;
        if refused.is_none() {
            return Err(Problem::Harness(format!(
                "no registration to refuse within {}{}",
                ms(START_WAIT),
                run.ended()
            )));
        }
        let accepted = run
            .accepted_after(Side::Registry, core_events::REGISTER, start, START_WAIT)
            .await;
        let until = match &accepted {
            Some(entry) => entry.at,
            None => Instant::now(),
        };
        if let Some(early) = subscribe_before(&run.mesh.timeline(), start, until) {
            return Err(violation(
                "no µHome.core.subscribe until a registration succeeded",
                format!(
                    "a subscribe to {:?} after the refusal (unhealthy){}",
                    early.pattern(),
                    if accepted.is_some() {
                        " and before the next registration succeeded"
                    } else {
                        ", and no registration succeeded"
                    }
                ),
            ));
        }
        if accepted.is_none() {
            run.mesh
                .note("the service did not register again: judged by UH-SERVICE-6");
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn retries_not_registered(ctx: &Ctx, legacy: bool) -> CaseResult {
    const REFUSALS: u32 = 2;
    let mut run = Run::new(ctx, true).await?;
    run.mesh.broker_script(|s| {
        s.refuse_subscribe = REFUSALS;
        s.legacy = legacy;
    });
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let registered = run.registered(start, START_WAIT).await?;
        if declares_none(ctx)
            && run
                .request_after(
                    Side::Broker,
                    core_events::SUBSCRIBE,
                    registered.at,
                    NONE_WAIT,
                )
                .await
                .is_none()
        {
            return nothing_to_judge(&run.mesh);
        }
        let refusal = if legacy {
            "reason Node is not registered, no code"
        } else {
            "code not_registered"
        };
        let mut after = registered.at;
        let mut refused: Vec<String> = Vec::new();
        for n in 1..=REFUSALS {
            let Some(reply) = run
                .mesh
                .wait_for(STEP_WAIT + FIRST_PAUSE_MAX * 3, |t| {
                    t.iter()
                        .find(|e| {
                            e.at > after
                                && e.is_reply(Side::Broker, core_events::SUBSCRIBE).is_some()
                        })
                        .cloned()
                })
                .await
            else {
                return Err(violation(
                    format!(
                        "the subscribe sent again after its refusal ({refusal}), after a backoff \
                         pause"
                    ),
                    format!(
                        "{} refusal(s), then no subscribe within {}{}",
                        n - 1,
                        ms(STEP_WAIT + FIRST_PAUSE_MAX * 3),
                        run.ended()
                    ),
                ));
            };
            if let Some(p) = reply.pattern() {
                refused.push(p.to_string());
            }
            after = reply.at;
        }
        for pattern in &refused {
            let again = run
                .mesh
                .wait_for(STEP_WAIT + FIRST_PAUSE_MAX * 3, |t| {
                    t.iter()
                        .find(|e| {
                            e.at > after
                                && e.is_reply(Side::Broker, core_events::SUBSCRIBE) == Some(true)
                                && e.pattern() == Some(pattern)
                        })
                        .cloned()
                })
                .await;
            if again.is_none() {
                return Err(violation(
                    format!("the subscribe to {pattern:?}, refused ({refusal}), sent again"),
                    format!(
                        "not sent again (accepted) within {}{}",
                        ms(STEP_WAIT + FIRST_PAUSE_MAX * 3),
                        run.ended()
                    ),
                ));
            }
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn answers_deliveries(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let (registered, patterns) = run.settled().await?;
        let Some(patterns) = patterns else {
            return nothing_to_judge(&run.mesh);
        };
        let address = register_request_before(&run.mesh.timeline(), registered.at)
            .and_then(|r| str_member(&r, "address").map(str::to_string))
            .unwrap_or_default();
        let deliverable: Vec<&String> = patterns
            .iter()
            .filter(|p| !p.starts_with(RESERVED_PREFIX))
            .collect();
        if deliverable.is_empty() {
            run.mesh.note(
                "the service subscribes only to reserved types, which are never published: \
                 nothing to deliver",
            );
            return Ok(());
        }
        for pattern in deliverable {
            let event_type = instance_of(pattern);
            let data = json!({ "conformance": "delivery", "pattern": pattern });
            let request = Request::new(&event_type, Some(data)).from("conformance/publisher");
            let reply = Conn::open(&address, &ctx.transcript, ctx.timeout)
                .await
                .map_err(|e| match e {
                    Problem::Harness(why) => {
                        violation(format!("a delivery to {address} to be answered"), why)
                    }
                    other => other,
                })?
                .call(&request.encode())
                .await?;
            let typed =
                reply.event_type == core_events::RESPONSE || reply.event_type == core_events::ERROR;
            let no_handler = reply.code() == Some("no_handler")
                || reply.message() == Some("No Handler for Event registered");
            if !typed || no_handler {
                return Err(violation(
                    format!(
                        "the handler's reply to {event_type:?} (subscribed as {pattern:?}), not \
                         no_handler"
                    ),
                    reply.summary(),
                ));
            }
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn unregisters_on_stop(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let (registered, _) = run.settled().await?;
        let node_id = register_request_before(&run.mesh.timeline(), registered.at)
            .and_then(|r| str_member(&r, "nodeId").map(str::to_string))
            .unwrap_or_default();
        let asked = Instant::now();
        run.mesh.note("the suite asks the service to stop");
        let stopped = run.stop().await;
        let timeline = run.mesh.timeline();
        let unregister = timeline
            .iter()
            .find(|e| e.at >= asked && e.is_request(Side::Registry, core_events::UNREGISTER));
        let Some(unregister) = unregister else {
            return Err(violation(
                format!("µHome.core.unregister for {node_id:?} before the service stops"),
                format!(
                    "none{}",
                    stopped
                        .err()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_else(|| " (the service ended)".into())
                ),
            ));
        };
        if str_member(unregister, "nodeId") != Some(node_id.as_str()) {
            return Err(violation(
                format!("unregister data.nodeId {node_id:?}"),
                format!("data {:?}", unregister.data()),
            ));
        }
        let probe = timeline.iter().find_map(|e| match &e.what {
            Happening::Probe { address, listening } if e.at >= unregister.at => {
                Some((address.clone(), *listening))
            }
            _ => None,
        });
        match probe {
            Some((_, true)) => Ok(()),
            Some((address, false)) => Err(violation(
                format!("{address} to accept connections until the unregister is sent"),
                "the suite's registry could not connect while the unregister was pending",
            )),
            None => Err(Problem::Harness(
                "the registry did not probe the address".into(),
            )),
        }
    }
    .await;
    run.finish(result).await
}

async fn down_at_start(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, false).await?;
    let result = async {
        run.mesh.note(&format!(
            "neither the suite's registry nor its broker listens for {} after the start",
            ms(DOWN_FOR)
        ));
        run.launch().await?;
        tokio::time::sleep(DOWN_FOR).await;
        let ended = run.ended();
        if !ended.is_empty() {
            return Err(violation(
                "the service to keep trying while the registry is down",
                ended.trim_start_matches("; ").to_string(),
            ));
        }
        let up = Instant::now();
        run.mesh
            .listen(Side::Registry)
            .await
            .map_err(Problem::Harness)?;
        run.mesh.note("the registry listens");
        // The pause in progress is at most three times the longest pause that fit in the
        // time down (1.5 to 2 times, with jitter), and at most the cap.
        let bound = (DOWN_FOR * 3 + FIRST_PAUSE_MAX).min(CAP_PAUSE_MAX) + ctx.timeout + SLACK;
        let registered = run.registered(up, bound).await.map_err(|e| match e {
            Problem::Violation { actual, .. } => violation(
                format!(
                    "the service, started while the registry was down, to register within {} of \
                     it listening",
                    ms(bound)
                ),
                actual,
            ),
            other => other,
        })?;
        if declares_none(ctx) {
            return Ok(());
        }
        tokio::time::sleep(DOWN_FOR).await;
        let up = Instant::now();
        run.mesh
            .listen(Side::Broker)
            .await
            .map_err(Problem::Harness)?;
        run.mesh.note(&format!(
            "the broker listens, {} after the registration",
            ms(up - registered.at)
        ));
        if run
            .accepted_after(Side::Broker, core_events::SUBSCRIBE, up, bound)
            .await
            .is_some()
        {
            return Ok(());
        }
        let ended = run.ended();
        let tried = run
            .mesh
            .timeline()
            .iter()
            .any(|e| e.is_request(Side::Broker, core_events::SUBSCRIBE));
        if ctx.profile.subscriptions.is_none() && ended.is_empty() && !tried {
            return Err(Problem::Harness(format!(
                "no subscribe within {} of the broker listening: declare the service's \
                 `subscriptions` in the profile ([] for none)",
                ms(bound)
            )));
        }
        Err(violation(
            format!(
                "the service to subscribe within {} of the broker listening",
                ms(bound)
            ),
            format!("no subscribe accepted{ended}"),
        ))
    }
    .await;
    run.finish(result).await
}

/// Judges the pauses between attempts against [UH-SERVICE-6]; `Err` names the rule broken.
#[allow(clippy::indexing_slicing)] // every index is within the loop's range over `secs`
pub fn judge_pauses(pauses: &[Duration]) -> Result<(), String> {
    let secs: Vec<f64> = pauses.iter().map(Duration::as_secs_f64).collect();
    let slack = PAUSE_SLACK.as_secs_f64();
    let late = SLACK.as_secs_f64();
    let cap_min = CAP_PAUSE_MIN.as_secs_f64();
    let show = |k: usize| format!("pause {} ({} ms)", k + 1, (secs[k] * 1000.0).round());
    if let Some(first) = secs.first() {
        if *first > FIRST_PAUSE_MAX.as_secs_f64() + late {
            return Err(format!("{} is above 1 s (+20 % jitter)", show(0)));
        }
    }
    for (k, p) in secs.iter().enumerate() {
        if *p > CAP_PAUSE_MAX.as_secs_f64() + late {
            return Err(format!("{} is above the 30 s cap (+20 % jitter)", show(k)));
        }
    }
    for k in 1..secs.len() {
        let (prev, p) = (secs[k - 1], secs[k]);
        if p > prev * 3.0 + late {
            return Err(format!(
                "{} is more than twice {} (with 20 % jitter)",
                show(k),
                show(k - 1)
            ));
        }
        if p < prev / 1.5 - slack {
            return Err(format!("{} is shorter than {}", show(k), show(k - 1)));
        }
        if prev < cap_min - slack && p < prev - slack {
            return Err(format!(
                "{} is shorter than {}, below any cap",
                show(k),
                show(k - 1)
            ));
        }
    }
    for k in 2..secs.len() {
        let (p0, p2) = (secs[k - 2], secs[k]);
        if p0 < cap_min - slack && p2 < (p0 * 1.5).min(cap_min) - slack {
            return Err(format!(
                "the pauses do not grow: {} is under 1.5 times {}, below any cap",
                show(k),
                show(k - 2)
            ));
        }
    }
    Ok(())
}

/// Whether the last three pauses sit at a cap.
fn at_cap(pauses: &[Duration]) -> bool {
    let n = pauses.len();
    n >= 3 && {
        let last = pauses.get(n - 3..).unwrap_or_default();
        let min = last.iter().min().copied().unwrap_or_default();
        let max = last.iter().max().copied().unwrap_or_default();
        min >= CAP_PAUSE_MIN && max.as_secs_f64() <= min.as_secs_f64() * 1.5
    }
}

async fn backoff(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    run.mesh.registry_script(|s| s.refuse_register = u32::MAX);
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let Some(first) = run
            .request_after(Side::Registry, core_events::REGISTER, start, START_WAIT)
            .await
        else {
            return Err(violation(
                "a µHome.core.register",
                format!("none within {}{}", ms(START_WAIT), run.ended()),
            ));
        };
        let observing = first.at;
        let mut pauses: Vec<Duration> = Vec::new();
        let mut last_request = first.at;
        loop {
            let Some(refusal) = run
                .mesh
                .wait_for(ctx.timeout * 2 + SLACK, |t| {
                    t.iter()
                        .find(|e| {
                            e.at >= last_request
                                && e.is_reply(Side::Registry, core_events::REGISTER) == Some(false)
                        })
                        .cloned()
                })
                .await
            else {
                return Err(Problem::Harness(
                    "the registry's refusal was not recorded".into(),
                ));
            };
            let allowed = match pauses.last() {
                None => FIRST_PAUSE_MAX,
                Some(prev) => (*prev * 3).min(CAP_PAUSE_MAX),
            } + SLACK
                + Duration::from_millis(500);
            let Some(next) = run
                .request_after(Side::Registry, core_events::REGISTER, refusal.at, allowed)
                .await
            else {
                return Err(violation(
                    "registration retried after a refusal (unhealthy) within the backoff's \
                     bounds: first pause at most 1 s, each next at most twice the last, at most \
                     30 s (+20 % jitter)",
                    format!(
                        "{} attempt(s), pauses {:?}; no attempt within {} of the last refusal{}",
                        pauses.len() + 1,
                        pauses.iter().map(|p| p.as_millis()).collect::<Vec<_>>(),
                        ms(allowed),
                        run.ended()
                    ),
                ));
            };
            pauses.push(next.at - refusal.at);
            last_request = next.at;
            if let Err(rule) = judge_pauses(&pauses) {
                return Err(violation(
                    "capped exponential backoff: first pause at most 1 s, each next 1.5 to 2 \
                     times the last until the cap, the cap between 1 s and 30 s, jitter up to \
                     20 %",
                    format!(
                        "pauses (ms) {:?}: {rule}",
                        pauses.iter().map(|p| p.as_millis()).collect::<Vec<_>>()
                    ),
                ));
            }
            if at_cap(&pauses)
                || pauses.len() >= BACKOFF_PAUSES
                || next.at - observing >= BACKOFF_BUDGET
            {
                break;
            }
        }
        run.mesh.registry_script(|s| s.refuse_register = 0);
        run.mesh.note(&format!(
            "pauses (ms) {:?}{}",
            pauses.iter().map(|p| p.as_millis()).collect::<Vec<_>>(),
            if at_cap(&pauses) {
                ", at the cap"
            } else {
                ", cap not reached while observed"
            }
        ));
        // Once it has answered a health check it must go on answering while it retries;
        // whether it listened before its first registration is UH-SERVICE-1's to judge.
        let timeline = run.mesh.timeline();
        let serving = timeline.iter().find_map(|e| match e.what {
            Happening::HealthCheck { healthy: true, .. } if e.at >= observing => Some(e.at),
            _ => None,
        });
        let sick = timeline.into_iter().find_map(|e| match e.what {
            Happening::HealthCheck {
                healthy: false,
                summary,
                address,
            } if serving.is_some_and(|at| e.at > at) => Some((address, summary)),
            _ => None,
        });
        if let Some((address, summary)) = sick {
            return Err(violation(
                format!("the service to answer health checks at {address} while it retries"),
                summary,
            ));
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn re_registers_when_forgotten(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let (_, patterns) = run.settled().await?;
        let forgot = Instant::now();
        run.mesh.forget_nodes();
        let bound = refresh_bound(ctx);
        let Some(registered) = run
            .accepted_after(Side::Registry, core_events::REGISTER, forgot, bound)
            .await
        else {
            let checks = run
                .mesh
                .timeline()
                .iter()
                .filter(|e| e.at >= forgot && e.is_request(Side::Registry, core_events::DISCOVER))
                .count();
            return Err(violation(
                format!(
                    "registered again within {} (refresh interval {}) of the registry forgetting it",
                    ms(bound),
                    ms(refresh_interval(ctx))
                ),
                format!("no registration; {checks} discover(s) meanwhile{}", run.ended()),
            ));
        };
        for pattern in patterns.unwrap_or_default() {
            let again = run
                .mesh
                .wait_for(STEP_WAIT, |t| {
                    t.iter()
                        .find(|e| {
                            e.at >= registered.at
                                && e.is_reply(Side::Broker, core_events::SUBSCRIBE) == Some(true)
                                && e.pattern() == Some(pattern.as_str())
                        })
                        .cloned()
                })
                .await;
            if again.is_none() {
                return Err(violation(
                    format!("a subscribe to {pattern:?} again after registering again"),
                    format!("none within {}{}", ms(STEP_WAIT), run.ended()),
                ));
            }
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn re_subscribes_after_broker_restart(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    let result = async {
        let (_, patterns) = run.settled().await?;
        let Some(patterns) = patterns else {
            return nothing_to_judge(&run.mesh);
        };
        let restarted = Instant::now();
        run.mesh.restart_broker().await.map_err(Problem::Harness)?;
        let bound = refresh_bound(ctx);
        let missing = run
            .mesh
            .wait_for(bound, |t| {
                let have = accepted_patterns(t, restarted);
                patterns.iter().all(|p| have.contains(p)).then_some(())
            })
            .await;
        if missing.is_none() {
            return Err(violation(
                format!(
                    "each of {patterns:?} subscribed again within {} (refresh interval {}) of \
                     the broker restarting",
                    ms(bound),
                    ms(refresh_interval(ctx))
                ),
                format!(
                    "subscribed again: {:?}{}",
                    accepted_patterns(&run.mesh.timeline(), restarted),
                    run.ended()
                ),
            ));
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn registers_again_without_discover(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    run.mesh.registry_script(|s| s.legacy = true);
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let first = run.registered(start, START_WAIT).await?;
        let bound = refresh_bound(ctx);
        if run
            .request_after(Side::Registry, core_events::REGISTER, first.at, bound)
            .await
            .is_none()
        {
            let discovers = run
                .mesh
                .timeline()
                .iter()
                .filter(|e| e.is_request(Side::Registry, core_events::DISCOVER))
                .count();
            return Err(violation(
                format!(
                    "a registry answering discover no_handler checked by registering again \
                     within {} (refresh interval {})",
                    ms(bound),
                    ms(refresh_interval(ctx))
                ),
                format!(
                    "no registration after the first; {discovers} discover(s){}",
                    run.ended()
                ),
            ));
        }
        Ok(())
    }
    .await;
    run.finish(result).await
}

async fn already_exists_counts_as_registered(ctx: &Ctx) -> CaseResult {
    let mut run = Run::new(ctx, true).await?;
    run.mesh.registry_script(|s| s.legacy = true);
    let result = async {
        let start = Instant::now();
        run.launch().await?;
        let first = run.registered(start, START_WAIT).await?;
        // A refusal taken as one is retried before any subscribe; a subscribe sent since the
        // start, even before the reply (UH-SERVICE-2's to judge), shows it went on.
        let next = run
            .mesh
            .wait_for(STEP_WAIT, |t| {
                t.iter()
                    .find(|e| {
                        (e.at >= start && e.is_request(Side::Broker, core_events::SUBSCRIBE))
                            || (e.at > first.at
                                && e.is_request(Side::Registry, core_events::REGISTER))
                    })
                    .cloned()
            })
            .await;
        match next {
            Some(e) if e.is_request(Side::Broker, core_events::SUBSCRIBE) => Ok(()),
            // Without subscriptions, registering again is its refresh as much as a retry.
            Some(_) if declares_none(ctx) => nothing_to_judge(&run.mesh),
            Some(_) => Err(violation(
                "the refusal Node already exists (no code) taken as registered: a subscribe next",
                "the service registered again instead",
            )),
            None if declares_none(ctx) => nothing_to_judge(&run.mesh),
            None if ctx.profile.subscriptions.is_none() => Err(Problem::Harness(format!(
                "no subscribe within {}{}: declare the service's `subscriptions` in the profile \
                 ([] for none)",
                ms(STEP_WAIT),
                run.ended()
            ))),
            None => Err(violation(
                "the refusal Node already exists (no code) taken as registered: a subscribe next",
                format!("no subscribe within {}{}", ms(STEP_WAIT), run.ended()),
            )),
        }
    }
    .await;
    run.finish(result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn backoff_rules() {
        // The reference: 100 ms doubling to 10 s.
        assert!(judge_pauses(&ms(&[100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000])).is_ok());
        // Doubling to a 1 s cap, with measurement noise and jitter.
        assert!(judge_pauses(&ms(&[110, 190, 430, 770, 1000, 1150, 900])).is_ok());
        assert!(judge_pauses(&ms(&[1500])).is_err(), "first pause too long");
        assert!(
            judge_pauses(&ms(&[100, 100, 100, 100])).is_err(),
            "no growth"
        );
        assert!(judge_pauses(&ms(&[100, 900])).is_err(), "grows too fast");
        assert!(
            judge_pauses(&ms(&[1000, 2000, 4000, 1000])).is_err(),
            "shrinks"
        );
        assert!(judge_pauses(&ms(&[1000, 2000, 4000, 8000, 16000, 32000, 40000])).is_err());
        assert!(at_cap(&ms(&[100, 200, 1000, 1000, 1100])));
        assert!(!at_cap(&ms(&[100, 200, 400])));
    }

    #[test]
    fn instances_of_patterns() {
        assert_eq!(instance_of("home.*.temp"), "home.conformance.temp");
        assert_eq!(instance_of("home.>"), "home.conformance.delivery");
        assert_eq!(instance_of("local.test"), "local.test");
        for p in ["home.*.temp", "home.>", "a.*.>"] {
            assert!(core_events::pattern_matches(p, &instance_of(p)), "{p}");
        }
    }
}
