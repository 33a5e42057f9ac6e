//! Mutation score of the conformance suite: the suite runs against a node with one injected
//! fault at a time (`mutants::CATALOGUE`, each breaking one requirement) and must FAIL a case
//! that names the broken requirement; against the unfaulted node it must pass. Prints the
//! score per area.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

#[path = "support/faulty_service.rs"]
#[allow(dead_code)]
mod faulty_service;
mod mutants;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mutants::broker::{Broker, BrokerDispatch};
use mutants::node::{Server, IDLE, LIMIT};
use mutants::registry::{Registry, RegistryDispatch, EVICT_AFTER, HEALTH_INTERVAL};
use mutants::{Fault, Mutant, CATALOGUE};
use tokio::sync::Semaphore;
use uhome_conformance::case::{Role, Verdict};
use uhome_conformance::cases::{catalogue, for_role, Case};
use uhome_conformance::launch::ServiceSetup;
use uhome_conformance::peers::{Mode, Peer};
use uhome_conformance::profile::Profile;
use uhome_conformance::runner::{run, CaseReport, Selection, Target};
use uhome_protocol::core_events::{BROKER_ID, REGISTRY_ID};
use uhome_protocol::Event;
use uhome_runtime::config::ServerConfig;
use uhome_runtime::{Dispatch, Node, ReplyFuture};

/// Faults the suite does not catch yet although they show on the wire, and why. The test
/// fails when one of them is caught (remove it here) or another fault survives.
const MISSED: &[(Fault, &str)] = &[];

/// The service role's faults, with the requirement each breaks: the faulty services of
/// `tests/support/faulty_service.rs` (`tests/service_role.rs` also requires each to FAIL
/// exactly its requirement's cases, and the unfaulted one to pass them all).
const SERVICE_FAULTS: &[(faulty_service::Fault, &str, &str)] = &[
    (
        faulty_service::Fault::RegistersBeforeListening,
        "UH-SERVICE-1",
        "sends its registration, then starts listening",
    ),
    (
        faulty_service::Fault::SubscribesBeforeReply,
        "UH-SERVICE-2",
        "subscribes as soon as its registration is sent",
    ),
    (
        faulty_service::Fault::NeverRetries,
        "UH-SERVICE-3",
        "gives up on the first refusal of each request",
    ),
    (
        faulty_service::Fault::IgnoresLegacyReason,
        "UH-SERVICE-3",
        "retries a refused subscribe on code not_registered only, not on v0.0.1's reason",
    ),
    (
        faulty_service::Fault::NoUnregister,
        "UH-SERVICE-5",
        "stops without unregistering",
    ),
    (
        faulty_service::Fault::GivesUpAtStart,
        "UH-SERVICE-6",
        "exits when the registry cannot be reached at its start",
    ),
    (
        faulty_service::Fault::NoRefresh,
        "UH-SERVICE-7",
        "never checks its registration again",
    ),
    (
        faulty_service::Fault::AlreadyExistsIsRefusal,
        "UH-SERVICE-8",
        "takes v0.0.1's Node already exists as a refusal",
    ),
];

/// Mutants run at once.
const PARALLEL: usize = 16;
/// The connection bound every mutant's profile declares. The mutant server has none, so
/// this only sizes the no-lockout case ([UH-EXCHANGE-17]): bound + 64 quiet connections.
const DECLARED_MAX_CONNECTIONS: usize = 64;
/// Descriptors this test needs at most: up to [`PARALLEL`] runs, each with both ends of its
/// connections in this process.
const DESCRIPTORS: u64 = 4096;

/// Raises the soft descriptor limit to the hard one; fails plainly when that is too low.
fn allow_descriptors() {
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        soft >= DESCRIPTORS,
        "this test needs {DESCRIPTORS} file descriptors and the hard limit is {soft} (raise it: ulimit -Hn)"
    );
}

struct NoHandlers;

impl Dispatch for NoHandlers {
    fn dispatch(&self, _: u16, _: &Event<'_>) -> Option<ReplyFuture> {
        None
    }
}

/// How the mutant is configured and what its profile declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Variant {
    /// A payload limit of [`LIMIT`] instead of 65535.
    limited: bool,
    /// A registry whose health rounds push nothing, declaring neither rounds nor the feature.
    quiet_rounds: bool,
}

impl Variant {
    fn of(fault: Fault) -> Variant {
        Variant {
            limited: fault.limited(),
            quiet_rounds: fault.quiet_rounds(),
        }
    }
}

/// Starts the mutant for `role` with `fault`; the target to run cases against.
async fn start(role: Role, fault: Fault, variant: Variant) -> Target {
    let limited = variant.limited;
    let mut profile = Profile {
        idle_timeout: Some(IDLE),
        max_payload: limited.then_some(LIMIT),
        max_connections: Some(DECLARED_MAX_CONNECTIONS),
        ..Profile::default()
    };
    let mut broker = None;
    let node = match role {
        Role::Registry => {
            let peer = Arc::new(
                Peer::start(BROKER_ID, "127.0.0.1:0", Mode::Healthy)
                    .await
                    .unwrap(),
            );
            let registry = Registry::start(fault, peer.addr(), !variant.quiet_rounds);
            broker = Some(peer);
            if !variant.quiet_rounds {
                profile.health_interval = Some(HEALTH_INTERVAL);
                profile.evict_after = Some(EVICT_AFTER);
                profile.features = vec!["pushAfterHealthRound".into()];
            }
            Node::new(
                REGISTRY_ID,
                Arc::new(RegistryDispatch(registry)),
                ServerConfig::default(),
            )
        }
        // As the reference broker: publishes waiting on deliveries do not use up the
        // handler bound ([UH-BROKER-11]).
        Role::Broker => Node::new(
            BROKER_ID,
            Arc::new(BrokerDispatch(Broker::new(fault))),
            ServerConfig {
                max_handlers_in_flight: ServerConfig::default().max_connections,
                ..ServerConfig::default()
            },
        ),
        _ => Node::new(
            "mutant/service",
            Arc::new(NoHandlers),
            ServerConfig::default(),
        ),
    };
    let addr = Server::new(node, fault, limited).spawn().await;
    Target {
        label: format!("mutant {} {fault:?}@{addr}", role.as_str()),
        addr,
        profile,
        broker,
        service: None,
    }
}

async fn run_against(target: Target, cases: Vec<Case>, run_id: String) -> Vec<CaseReport> {
    run(
        &cases,
        &target,
        &Selection::default(),
        Duration::from_secs(2),
        &run_id,
        |_| {},
    )
    .await
}

/// The cases of `mutant`'s role that name its requirement.
fn cases_for(all: &[Case], mutant: &Mutant) -> Vec<Case> {
    for_role(all, mutant.role)
        .into_iter()
        .filter(|c| c.info.requirements.iter().any(|r| r == mutant.requirement))
        .collect()
}

/// One line of the score table.
struct Row {
    name: String,
    area: &'static str,
    requirement: &'static str,
    does: &'static str,
    expected_to_survive: bool,
}

struct Outcome {
    killed_by: Vec<String>,
    seconds: u64,
    /// Each case and its verdict.
    verdicts: Vec<String>,
}

impl Outcome {
    fn of(reports: &[CaseReport], started: std::time::Instant) -> Outcome {
        Outcome {
            seconds: started.elapsed().as_secs(),
            killed_by: reports
                .iter()
                .filter(|r| r.verdict == Verdict::Fail)
                .map(|r| r.info.id.clone())
                .collect(),
            verdicts: reports
                .iter()
                .map(|r| format!("{} {}", r.info.id, r.verdict.as_str()))
                .collect(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_kills_every_observable_fault_and_passes_the_unfaulted_node() {
    assert!(CATALOGUE.len() >= 40, "{} faults", CATALOGUE.len());
    allow_descriptors();
    let all = catalogue();
    let permits = Arc::new(Semaphore::new(PARALLEL));

    // UHOME_MUTANT=NAME runs only the faults whose name contains NAME, for debugging.
    let only = std::env::var("UHOME_MUTANT").ok();
    let chosen = |m: &Mutant| {
        only.as_ref()
            .is_none_or(|o| format!("{:?}", m.fault).contains(o.as_str()))
    };
    // The unfaulted node, every case of each role (and the service with a payload limit).
    let mut clean = Vec::new();
    let plain = Variant::of(Fault::Unfaulted);
    let limited = Variant {
        limited: true,
        ..plain
    };
    let quiet = Variant {
        quiet_rounds: true,
        ..plain
    };
    let variants = [
        (Role::Any, plain),
        (Role::Any, limited),
        (Role::Registry, plain),
        (Role::Registry, quiet),
        (Role::Broker, plain),
    ];
    for (role, variant) in if only.is_some() {
        vec![]
    } else {
        variants.to_vec()
    } {
        let cases = for_role(&all, role);
        let permits = permits.clone();
        clean.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let target = start(role, Fault::Unfaulted, variant).await;
            let label = format!("{} {variant:?}", target.label);
            let run_id = format!(
                "clean-{}-{}-{}",
                role.as_str(),
                variant.limited,
                variant.quiet_rounds
            );
            (
                label,
                variant.limited,
                run_against(target, cases, run_id).await,
            )
        }));
    }

    let mut runs = Vec::new();
    for (n, mutant) in CATALOGUE.iter().enumerate().filter(|(_, m)| chosen(m)) {
        let cases = cases_for(&all, mutant);
        assert!(
            !cases.is_empty(),
            "{:?}: no case names {}",
            mutant.fault,
            mutant.requirement
        );
        let permits = permits.clone();
        let row = Row {
            name: format!("{:?}", mutant.fault),
            area: mutant.area,
            requirement: mutant.requirement,
            does: mutant.does,
            expected_to_survive: mutant.unobservable.is_some()
                || MISSED.iter().any(|(f, _)| *f == mutant.fault),
        };
        runs.push((
            row,
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let target = start(mutant.role, mutant.fault, Variant::of(mutant.fault)).await;
                let started = std::time::Instant::now();
                let reports = run_against(target, cases, format!("mutant-{n}")).await;
                Outcome::of(&reports, started)
            }),
        ));
    }
    // The service role: the faulty services of `support/faulty_service.rs`.
    for (n, (fault, requirement, does)) in SERVICE_FAULTS.iter().enumerate() {
        let name = format!("service {fault:?}");
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let cases: Vec<Case> = faulty_service::role_cases()
            .into_iter()
            .filter(|c| c.info.requirements.iter().any(|r| r == requirement))
            .collect();
        assert!(!cases.is_empty(), "{fault:?}: no case names {requirement}");
        let permits = permits.clone();
        let row = Row {
            name,
            area: "service role",
            requirement,
            does,
            expected_to_survive: false,
        };
        runs.push((
            row,
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let target = Target {
                    label: format!("faulty service {fault:?}"),
                    addr: String::new(),
                    profile: faulty_service::profile(),
                    broker: None,
                    service: Some(ServiceSetup::new(Arc::new(faulty_service::Faulty(*fault)))),
                };
                let started = std::time::Instant::now();
                let reports = run_against(target, cases, format!("service-{n}")).await;
                Outcome::of(&reports, started)
            }),
        ));
    }

    let mut problems = Vec::new();
    for run in clean {
        let (label, limited, reports) = run.await.unwrap();
        for r in &reports {
            let allowed = match r.verdict {
                Verdict::Pass | Verdict::Skipped => true,
                // A declared limit below 65535 breaks the SHOULD of [UH-FRAME-6].
                Verdict::NonStrict => limited && r.info.id == "UH-FRAME-6/largest-payload",
                Verdict::Fail | Verdict::Error => false,
            };
            if !allowed {
                problems.push(format!(
                    "unfaulted {label}: {} {} — expected {:?}, actual {:?}, note {:?}",
                    r.verdict.as_str(),
                    r.info.id,
                    r.expected,
                    r.actual,
                    r.note
                ));
            }
        }
    }

    let mut areas: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut survivors = Vec::new();
    println!(
        "\n{:<36} {:<15} {:<8} {:>4} killed by",
        "fault", "requirement", "verdict", "s"
    );
    for (row, run) in runs {
        let outcome = run.await.unwrap();
        let killed = !outcome.killed_by.is_empty();
        let area = areas.entry(row.area).or_default();
        area.1 += 1;
        if killed {
            area.0 += 1;
        }
        println!(
            "{:<36} {:<15} {:<8} {:>4} {}",
            row.name,
            row.requirement,
            if killed { "killed" } else { "SURVIVED" },
            outcome.seconds,
            if killed {
                outcome.killed_by.join(", ")
            } else {
                format!("{} [{}]", row.does, outcome.verdicts.join(", "))
            }
        );
        if killed == row.expected_to_survive {
            survivors.push(format!(
                "{} ({}): {}",
                row.name,
                row.requirement,
                if killed {
                    "killed, but listed as surviving"
                } else {
                    "survived"
                }
            ));
        }
    }
    let (mut killed, mut total) = (0, 0);
    println!("\n{:<24} {:>7}", "area", "score");
    for (area, (k, t)) in &areas {
        println!("{area:<24} {k:>3}/{t:<3}");
        killed += k;
        total += t;
    }
    println!("{:<24} {killed:>3}/{total:<3}", "total");
    problems.extend(survivors);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
