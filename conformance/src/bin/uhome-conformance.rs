//! `uhome-conformance`: checks a µHome implementation against the specification.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand};
use uhome_conformance::case::Role;
use uhome_conformance::cases::{catalogue, for_role};
use uhome_conformance::peers::{Mode, Peer};
use uhome_conformance::profile::Profile;
use uhome_conformance::report::{self, exit_status, Counts, JsonReport};
use uhome_conformance::runner::{self, CaseReport, Selection, Target};
use uhome_conformance::{codec, embedded, spec, vectors};

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
    },
    /// Cases every node must pass.
    Node(TargetArgs),
    /// Node cases and the service role's.
    Service(TargetArgs),
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
        Some(Command::Vectors { exec, parallel }) => {
            let files = vectors::embedded()?;
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
        Some(Command::Service(t)) => {
            one(
                &all,
                Role::Service,
                "service",
                t.target,
                profile,
                None,
                &selection,
                &options,
            )
            .await
        }
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

fn list(all: &[uhome_conformance::cases::Case], as_json: bool) {
    let requirements = spec::requirements();
    if as_json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|c| {
                let mut row = serde_json::to_value(&c.info).unwrap_or_default();
                row["requirementText"] = c
                    .info
                    .requirements
                    .iter()
                    .filter_map(|r| requirements.get(r).map(|q| q.text.clone()))
                    .collect::<Vec<_>>()
                    .into();
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
