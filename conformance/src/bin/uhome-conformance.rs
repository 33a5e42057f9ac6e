//! `uhome-conformance`: checks a µHome implementation against the specification.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use std::sync::Arc;
use uhome_conformance::case::Role;
use uhome_conformance::cases::service::START_WAIT;
use uhome_conformance::cases::{catalogue, for_role, starts_the_service};
use uhome_conformance::launch::{signal_number, CommandLauncher, MeshAddrs, ServiceSetup};
use uhome_conformance::mesh::{Mesh, Side};
use uhome_conformance::peers::{Mode, Peer};
use uhome_conformance::profile::Profile;
use uhome_conformance::report::{self, exit_status, Counts, JsonReport};
use uhome_conformance::runner::{self, CaseReport, Selection, Target};
use uhome_conformance::{codec, embedded, spec, vectors};
use uhome_protocol::core_events::{BROKER_ID, REGISTER};

#[derive(Parser)]
#[command(
    name = "uhome-conformance",
    version,
    about = "Checks a µHome implementation against spec/protocol.md",
    long_about = "Checks a µHome implementation against spec/protocol.md.\n\n\
        With no command, starts the reference broker, registry and a service in-process on \
        ephemeral loopback ports and runs every role's cases against them.\n\n\
        Exit status: 0 every case passed, 1 a conformance failure, 2 a usage or harness error."
)]
struct Cli {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct Options {
    /// Run only the cases whose ID starts with PREFIX (repeatable).
    #[arg(long, global = true, value_name = "PREFIX")]
    only: Vec<String>,
    /// Skip the cases whose ID starts with PREFIX (repeatable).
    #[arg(long, global = true, value_name = "PREFIX")]
    skip: Vec<String>,
    /// NON-STRICT verdicts (a SHOULD broken) fail the run.
    #[arg(long, global = true)]
    strict: bool,
    /// Deadline of each read, write and decoder run.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Write the JSON report (spec/conformance-report.schema.json) to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    html: Option<PathBuf>,
    /// What the node under test supports (spec/conformance-contract.md).
    #[arg(long, global = true, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// After a case leaves the target not answering, run CMD (`sh -c`) to start it again at
    /// the same address, and go on with the run.
    #[arg(long, global = true, value_name = "CMD")]
    restart_cmd: Option<String>,
    /// Print every case, passed vector cases included.
    #[arg(long, short, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Print the case catalogue.
    List {
        /// As JSON.
        #[arg(long = "as-json")]
        as_json: bool,
    },
    /// Run every vector through a decoder program (stdin: frame bytes; stdout: canonical
    /// JSON and exit 0, or the error code and exit 1).
    Vectors {
        /// The decoder command, run with `sh -c`.
        #[arg(long, value_name = "CMD ARGS")]
        exec: String,
        /// Decoders run at once.
        #[arg(long, default_value_t = 4)]
        parallel: usize,
        /// Run the vectors of FILE (a vector file, a fuzz finding say) instead of
        /// spec/vectors (repeatable).
        #[arg(long = "vectors", value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Differential fuzzing of a decoder program against the reference codec: inputs from
    /// the vectors mutated and events generated with the specification's edge cases; every
    /// disagreement the specification does not allow, crash or hang is minimized and written
    /// as a vector file. Exit 1 when anything was found.
    #[command(group(clap::ArgGroup::new("under_test").required(true).args(["exec", "target"])))]
    Fuzz {
        /// The decoder command, run with `sh -c` (the stream mode when it declares it).
        #[arg(long, value_name = "CMD ARGS")]
        exec: Option<String>,
        /// A live node instead: each input sent whole, split at random points or pipelined,
        /// every reply compared with the reference exchange core's, the node's health checked
        /// between batches; findings are the bytes sent and how to replay them.
        #[arg(long, value_name = "HOST:PORT")]
        target: Option<String>,
        /// With --target: at most this many inputs per second.
        #[arg(long, default_value_t = 500)]
        rate: u32,
        /// With --target: inputs between two health checks.
        #[arg(long, default_value_t = 50)]
        batch: u64,
        /// With --target: replay one finding file (finding-N.json) instead of fuzzing; exit 1
        /// while the node still disagrees.
        #[arg(long, value_name = "FILE", requires = "target")]
        replay: Option<PathBuf>,
        /// With --replay: replay up to this many times, stopping at the first disagreement
        /// (how a node's reads split the bytes varies from one attempt to the next).
        #[arg(long, default_value_t = 5, requires = "replay")]
        attempts: u32,
        /// Seed of the inputs: the same seed gives the same inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this long (60s when neither --time nor --iterations is given).
        #[arg(long, value_parser = humantime::parse_duration)]
        time: Option<Duration>,
        /// Stop after this many inputs.
        #[arg(long)]
        iterations: Option<u64>,
        /// Where findings are written, one vector file each.
        #[arg(long, default_value = "fuzz-findings")]
        out: PathBuf,
    },
    /// Cases every node must pass.
    Node(TargetArgs),
    /// Node cases and the service role's: the suite starts the service under test itself,
    /// playing its registry and broker.
    Service(ServiceArgs),
    /// Node cases and the registry role's; the suite plays the broker.
    Registry {
        #[command(flatten)]
        target: TargetArgs,
        /// Where the suite listens as the broker; start the registry with this broker address.
        #[arg(long, default_value = "127.0.0.1:5199")]
        broker_listen: String,
    },
    /// Node cases and the broker role's; the suite plays the registry and the services.
    Broker(TargetArgs),
    /// Section 14 cases against a node in `secure` mode: the profile's `security` member gives
    /// the node's key and the identities its policy trusts (spec/conformance-contract.md).
    Secure {
        #[command(flatten)]
        target: TargetArgs,
        /// What the target is: `node` (the cases every secure node passes), `registry`,
        /// `broker` or `service` (a running subscriber: those and the role's).
        #[arg(long = "as", default_value = "node", value_parser = ["node", "registry", "broker", "service"])]
        role: String,
        /// With --as registry: where the suite listens as the broker (it signs its answers
        /// with the profile's security.broker secret when given).
        #[arg(long, default_value = "127.0.0.1:5199")]
        broker_listen: String,
    },
}

#[derive(Args, Clone)]
struct ServiceArgs {
    /// Starts the service under test, run with `sh -c` in its own process group once per
    /// case; {registry}, {broker}, {registry_port}, {broker_port} are replaced by where the
    /// suite listens, {listen} and {port} by a free loopback address for the service.
    #[arg(long, value_name = "CMD")]
    start_cmd: String,
    /// Stops it in an orderly way, run with `sh -c`; {pid} is replaced by the start
    /// command's process id. Without it, --stop-signal is sent to its process group.
    #[arg(long, value_name = "CMD")]
    stop_cmd: Option<String>,
    /// The signal that stops it in an orderly way.
    #[arg(long, value_name = "SIGNAL", default_value = "TERM")]
    stop_signal: String,
    /// Where the suite listens as the registry (port 0: a fresh ephemeral port per case).
    #[arg(long, default_value = "127.0.0.1:0")]
    registry_listen: String,
    /// Where the suite listens as the broker (port 0: a fresh ephemeral port per case).
    #[arg(long, default_value = "127.0.0.1:0")]
    broker_listen: String,
    /// The node cases' target, host:port (default: the address the service registers).
    #[arg(long)]
    target: Option<String>,
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// The node under test, host:port.
    #[arg(long)]
    target: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("uhome-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("uhome-conformance: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{}", nanos % 0xffff_ffff_ffff, std::process::id())
}

fn print(report: &CaseReport, verbose: bool) {
    if let Some(line) = report::line(report, verbose) {
        println!("{line}");
    }
}

/// `fuzz --target`: a campaign against a live node, or the replay of one finding.
async fn fuzz_node(
    addr: String,
    max_payload: usize,
    replay: Option<PathBuf>,
    attempts: u32,
    options: uhome_conformance::fuzz_node::Options,
) -> Result<u8, String> {
    use uhome_conformance::fuzz_node::{self, Replayed};
    if let Some(file) = replay {
        let replayed =
            fuzz_node::replay(&file, &addr, max_payload, options.run.timeout, attempts).await?;
        return Ok(match replayed {
            Replayed::Fails { attempt, what } => {
                println!("STILL FAILS {what} (attempt {attempt} of {attempts})");
                1
            }
            Replayed::Agrees { attempts } => {
                println!(
                    "AGREES     {} replayed {attempts} times, the node answers as the reference",
                    file.display()
                );
                0
            }
        });
    }
    let files = vectors::embedded()?;
    let summary = fuzz_node::run(&files, &addr, &options, |line| eprintln!("{line}")).await?;
    for finding in &summary.findings {
        println!("FINDING    [{}] {}", finding.class, finding.what);
        let hex = &finding.exchange.hex;
        match hex.get(..160) {
            Some(start) if hex.len() > 160 => {
                println!("    input:  {start}… ({} bytes)", hex.len() / 2)
            }
            _ => println!("    input:  {hex}"),
        }
        println!("    file:   {}", finding.file.display());
        println!(
            "    replay: {}",
            fuzz_node::replay_command(&finding.file, &addr)
        );
    }
    println!(
        "{}: {} inputs in {:.1} s, {} findings (seed {}){}",
        if summary.findings.is_empty() {
            "NO FINDINGS"
        } else {
            "FINDINGS"
        },
        summary.inputs,
        summary.seconds,
        summary.findings.len(),
        options.run.seed,
        if summary.node_lost {
            "; the node stopped answering"
        } else {
            ""
        }
    );
    Ok(if summary.findings.is_empty() { 0 } else { 1 })
}

async fn run(cli: Cli) -> Result<u8, String> {
    let options = cli.options;
    let selection = Selection {
        only: options.only.clone(),
        skip: options.skip.clone(),
    };
    let profile = match &options.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let started = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let all = catalogue();
    let verbose = options.verbose;
    let (reports, targets) = match cli.command {
        Some(Command::List { as_json }) => {
            list(&all, as_json);
            return Ok(0);
        }
        Some(Command::Fuzz {
            exec,
            target,
            rate,
            batch,
            replay,
            attempts,
            seed,
            time,
            iterations,
            out,
        }) => {
            let time = time.or(iterations.is_none().then_some(Duration::from_secs(60)));
            let Some(exec) = exec else {
                let addr = target.unwrap_or_default();
                let max_payload = profile.max_payload.unwrap_or(65535);
                return fuzz_node(
                    addr,
                    max_payload,
                    replay,
                    attempts,
                    uhome_conformance::fuzz_node::Options {
                        run: uhome_conformance::fuzz::Options {
                            seed,
                            time,
                            iterations,
                            out,
                            timeout: options.timeout,
                        },
                        rate,
                        batch,
                        max_payload,
                    },
                )
                .await;
            };
            let fuzz_options = uhome_conformance::fuzz::Options {
                seed,
                time,
                iterations,
                out,
                timeout: options.timeout,
            };
            let files = vectors::embedded()?;
            let summary = uhome_conformance::fuzz::run(&files, &exec, &fuzz_options, |line| {
                eprintln!("{line}")
            })
            .await?;
            for finding in &summary.findings {
                println!("FINDING    {}", finding.what);
                println!("    input:  {}", hex::encode(&finding.input));
                println!("    file:   {}", finding.file.display());
                println!(
                    "    replay: {}",
                    uhome_conformance::fuzz::replay_command(&finding.file, &exec)
                );
            }
            println!(
                "{}: {} inputs in {:.1} s, {} findings (seed {seed})",
                if summary.findings.is_empty() {
                    "NO FINDINGS"
                } else {
                    "FINDINGS"
                },
                summary.inputs,
                summary.seconds,
                summary.findings.len()
            );
            return Ok(if summary.findings.is_empty() { 0 } else { 1 });
        }
        Some(Command::Vectors {
            exec,
            parallel,
            files,
        }) => {
            let files = if files.is_empty() {
                vectors::embedded()?
            } else {
                files
                    .iter()
                    .map(|f| vectors::load_file(f))
                    .collect::<Result<Vec<_>, _>>()?
            };
            let reports = codec::run(files, &exec, &selection, options.timeout, parallel, |r| {
                print(r, verbose)
            })
            .await;
            (reports, vec![format!("decoder `{exec}`")])
        }
        Some(Command::Node(t)) => {
            one(
                &all,
                Role::Any,
                "node",
                t.target,
                profile,
                None,
                &selection,
                &options,
            )
            .await
        }
        Some(Command::Service(args)) => service(&all, args, profile, &selection, &options).await?,
        Some(Command::Broker(t)) => {
            one(
                &all,
                Role::Broker,
                "broker",
                t.target,
                profile,
                None,
                &selection,
                &options,
            )
            .await
        }
        Some(Command::Registry {
            target,
            broker_listen,
        }) => {
            let broker = Peer::start("µHome/core/eventBroker", &broker_listen, Mode::Healthy)
                .await
                .map_err(|e| format!("cannot listen as the broker on {broker_listen}: {e}"))?;
            one(
                &all,
                Role::Registry,
                "registry",
                target.target,
                profile,
                Some(broker),
                &selection,
                &options,
            )
            .await
        }
        Some(Command::Secure {
            target,
            role,
            broker_listen,
        }) => {
            let Some(security) = profile.security.clone() else {
                return Err("the secure role needs --profile with a \"security\" member".into());
            };
            let (role, broker) = match role.as_str() {
                "registry" => {
                    let broker = Peer::start(BROKER_ID, &broker_listen, Mode::Healthy)
                        .await
                        .map_err(|e| {
                            format!("cannot listen as the broker on {broker_listen}: {e}")
                        })?;
                    if let Some(id) = &security.broker {
                        let secret = uhome_conformance::signing::parse32(&id.secret).ok_or(
                            "the profile's security.broker secret is not 64 hex characters",
                        )?;
                        broker.sign_with(uhome_protocol::auth::SigningKey::from_bytes(&secret));
                    }
                    (Role::SecureRegistry, Some(broker))
                }
                "broker" => (Role::SecureBroker, None),
                "service" => (Role::SecureService, None),
                _ => (Role::Secure, None),
            };
            one(
                &all,
                role,
                role.as_str(),
                target.target,
                profile,
                broker,
                &selection,
                &options,
            )
            .await
        }
        None => {
            let reference = embedded::start().await?;
            println!(
                "reference nodes: service {}, registry {}, broker {}",
                reference.service.local_addr(),
                reference.registry.local_addr(),
                reference.broker.local_addr()
            );
            let id = run_id();
            let mut runs = Vec::new();
            for (role, target) in reference.targets() {
                let cases = for_role(&all, role);
                let (selection, id) = (selection.clone(), id.clone());
                let timeout = options.timeout;
                runs.push(tokio::spawn(async move {
                    let label = target.label.clone();
                    let reports = runner::run(&cases, &target, &selection, timeout, &id, |r| {
                        print(r, verbose)
                    })
                    .await;
                    (label, reports)
                }));
            }
            let mut reports = Vec::new();
            let mut labels = Vec::new();
            for run in runs {
                let (label, r) = run.await.map_err(|e| e.to_string())?;
                labels.push(label);
                reports.extend(r);
            }
            reference.shutdown().await;
            (reports, labels)
        }
    };
    if reports.is_empty() {
        return Err("no case selected".into());
    }
    println!("\n{}", report::summary(&reports));
    let status = exit_status(&reports, options.strict);
    let doc = JsonReport {
        tool: "uhome-conformance",
        tool_version: env!("CARGO_PKG_VERSION"),
        spec_version: uhome_protocol::SPEC_VERSION,
        started,
        strict: options.strict,
        targets,
        summary: Counts::of(&reports),
        exit_status: status,
        cases: &reports,
    };
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &options.html {
        std::fs::write(path, report::html(&doc)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &options.junit {
        std::fs::write(path, report::junit(&reports, options.strict))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let c = Counts::of(&reports);
    println!(
        "{}: {} passed, {} failed, {} non-strict, {} skipped, {} errors",
        match status {
            0 => "CONFORMS",
            1 => "DOES NOT CONFORM",
            _ => "INCOMPLETE",
        },
        c.pass,
        c.fail,
        c.non_strict,
        c.skipped,
        c.error
    );
    Ok(status)
}

#[allow(clippy::too_many_arguments)]
async fn one(
    all: &[uhome_conformance::cases::Case],
    role: Role,
    name: &str,
    addr: String,
    profile: Profile,
    broker: Option<Peer>,
    selection: &Selection,
    options: &Options,
) -> (Vec<CaseReport>, Vec<String>) {
    let target = Target {
        label: format!("{name}@{addr}"),
        addr,
        profile,
        broker: broker.map(std::sync::Arc::new),
        service: None,
    };
    let cases = for_role(all, role);
    let verbose = options.verbose;
    let run = runner::RunOptions {
        selection: selection.clone(),
        timeout: options.timeout,
        run_id: run_id(),
        restart: options.restart_cmd.clone().map(runner::Restart::Command),
    };
    let reports = runner::run_with(&cases, &target, &run, |r| print(r, verbose)).await;
    (reports, vec![target.label])
}

/// The service role: the node cases against one instance, then the cases that start their own.
async fn service(
    all: &[uhome_conformance::cases::Case],
    args: ServiceArgs,
    profile: Profile,
    selection: &Selection,
    options: &Options,
) -> Result<(Vec<CaseReport>, Vec<String>), String> {
    let launcher = CommandLauncher {
        start: args.start_cmd.clone(),
        stop: args.stop_cmd.clone(),
        signal: signal_number(&args.stop_signal)?,
    };
    let setup = ServiceSetup {
        launcher: Arc::new(launcher),
        registry_listen: args.registry_listen.clone(),
        broker_listen: args.broker_listen.clone(),
    };
    let (node_cases, role_cases): (Vec<_>, Vec<_>) = for_role(all, Role::Service)
        .into_iter()
        .filter(|c| selection.selects(&c.info.id))
        .partition(|c| !starts_the_service(&c.info));
    let id = run_id();
    let verbose = options.verbose;
    let mut reports = Vec::new();
    let mut labels = Vec::new();
    if !node_cases.is_empty() {
        let transcript = uhome_conformance::case::Transcript::default();
        let mesh = Mesh::reserve(
            &setup.registry_listen,
            &setup.broker_listen,
            &transcript,
            options.timeout,
        )
        .await?;
        mesh.listen(Side::Registry).await?;
        mesh.listen(Side::Broker).await?;
        let addrs = MeshAddrs {
            registry: mesh.registry_addr(),
            broker: mesh.broker_addr(),
        };
        let mut instance = setup.launcher.start(&addrs).await?;
        let registered = mesh
            .wait_for(START_WAIT, |t| {
                t.iter()
                    .filter(|e| e.is_request(Side::Registry, REGISTER))
                    .find_map(|e| e.data()?.get("address")?.as_str().map(str::to_string))
            })
            .await;
        let Some(addr) = args.target.clone().or(registered) else {
            let _ = instance.stop().await;
            return Err(format!(
                "the service did not register within {START_WAIT:?}: give --target for the node \
                 cases\n{}",
                instance.output()
            ));
        };
        let target = Target {
            label: format!("service@{addr}"),
            addr,
            profile: profile.clone(),
            broker: None,
            service: None,
        };
        let run = runner::RunOptions {
            selection: selection.clone(),
            timeout: options.timeout,
            run_id: id.clone(),
            restart: options.restart_cmd.clone().map(runner::Restart::Command),
        };
        reports.extend(runner::run_with(&node_cases, &target, &run, |r| print(r, verbose)).await);
        labels.push(target.label);
        if let Err(e) = instance.stop().await {
            eprintln!("uhome-conformance: {e}");
        }
    }
    if !role_cases.is_empty() {
        let target = Target {
            label: "service (--start-cmd)".to_string(),
            addr: String::new(),
            profile,
            broker: None,
            service: Some(setup),
        };
        reports.extend(
            runner::run(&role_cases, &target, selection, options.timeout, &id, |r| {
                print(r, verbose)
            })
            .await,
        );
        labels.push(target.label);
    }
    Ok((reports, labels))
}

fn list(all: &[uhome_conformance::cases::Case], as_json: bool) {
    let requirements = spec::requirements();
    if as_json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|c| {
                let mut row = serde_json::to_value(&c.info).unwrap_or_default();
                let text: Vec<String> = c
                    .info
                    .requirements
                    .iter()
                    .filter_map(|r| requirements.get(r).map(|q| q.text.clone()))
                    .collect();
                if let Some(row) = row.as_object_mut() {
                    row.insert("requirementText".into(), text.into());
                }
                row
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return;
    }
    for c in all {
        println!(
            "{:<62} {:<6} {:<8} {}",
            c.info.id,
            c.info.level.as_str(),
            c.info.role.as_str(),
            c.info.description
        );
        for r in &c.info.requirements {
            if let Some(req) = requirements.get(r) {
                println!("    [{}] {}", req.id, req.text);
            }
        }
        if let Some(feature) = &c.info.feature {
            println!("    needs: {feature}");
        }
    }
    println!("\n{} cases", all.len());
}
