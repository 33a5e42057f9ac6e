//! `uhome`: run a µHome mesh or its parts, send and publish events, explore in a REPL.

mod bench;
mod config_file;
mod repl;
mod sub;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::{self, ServerConfig};
use uhome_runtime::registry::{self, RegistryConfig};
use uhome_runtime::service::{self, Service, ServiceBuilder};
use uhome_runtime::{Client, OwnedEvent, Reply, ReplyEvent};

#[derive(Parser)]
#[command(
    name = "uhome",
    version,
    about = "µHome: run a home-automation mesh, send and publish events"
)]
struct Cli {
    /// Log format on stderr (filter with RUST_LOG; default `info` for nodes, `warn` otherwise).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker and the registry in one process (ports 5100 and 5101, as v0.0.1).
    Mesh(MeshArgs),
    /// Run the event broker.
    Broker(BrokerArgs),
    /// Run the service registry.
    Registry(RegistryArgs),
    /// Run a demo service that echoes or logs events.
    Service(ServiceArgs),
    /// Send one event to a node and print the reply as JSON.
    ///
    /// Exit status: 0 for a reply with status 1; 10 for status 0 (the node's fault); 12 for
    /// status 2 (the request's fault); 13 for a reserved status; 11 when a core type
    /// (`µHome.core.*`) is answered `no_handler` or without the members it defines; 1 when
    /// no reply came.
    Send(SendArgs),
    /// Publish an event through the broker and print the delivery report.
    Publish(PublishArgs),
    /// List the nodes the registry knows.
    Nodes(NodesArgs),
    /// Subscribe to patterns and print each event as it arrives, as a temporary node that
    /// registers, subscribes, and unregisters on exit or Ctrl-C.
    Sub(sub::SubArgs),
    /// An interactive shell for every command, with line editing and history; nodes started
    /// there run in the background.
    Repl(ReplArgs),
    /// Measure request/reply latency and throughput, and publish fan-out, on loopback.
    Bench(bench::BenchArgs),
    /// Configuration files: `uhome config example [COMMAND]` prints a commented one.
    Config(config_file::ConfigArgs),
}

#[derive(Args, Clone)]
struct NodeArgs {
    /// Close connections with no complete frame for this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    idle_timeout: Duration,
    /// Connections served at once (more wait in the listen backlog).
    #[arg(long, default_value_t = config::MAX_CONNECTIONS)]
    max_connections: usize,
}

impl NodeArgs {
    fn server(&self) -> ServerConfig {
        ServerConfig {
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            ..ServerConfig::default()
        }
    }
}

#[derive(Args, Clone)]
struct StateArgs {
    /// Directory of the registry's state [default: the user's data directory, `uhome/`].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep nothing on disk: registrations are lost when the process stops.
    #[arg(long, conflicts_with = "data_dir")]
    memory: bool,
    /// Interval of the registry's health checks.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    health_interval: Duration,
    /// Evict a node after this many failed health checks in a row.
    #[arg(long, default_value_t = config::EVICT_AFTER)]
    evict_after: u32,
}

impl StateArgs {
    fn data_dir(&self) -> Result<Option<PathBuf>, String> {
        if self.memory {
            return Ok(None);
        }
        match &self.data_dir {
            Some(dir) => Ok(Some(dir.clone())),
            None => dirs::data_local_dir()
                .map(|d| Some(d.join("uhome")))
                .ok_or_else(|| "no user data directory: pass --data-dir or --memory".to_string()),
        }
    }

    fn registry(&self, broker: Option<String>, node: &NodeArgs) -> Result<RegistryConfig, String> {
        Ok(RegistryConfig {
            broker,
            data_dir: self.data_dir()?,
            health_interval: self.health_interval,
            evict_after: self.evict_after,
            server: node.server(),
            ..RegistryConfig::default()
        })
    }
}

#[derive(Args)]
struct MeshArgs {
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:5100")]
    broker_listen: String,
    /// Registry address.
    #[arg(long, default_value = "127.0.0.1:5101")]
    registry_listen: String,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    file: config_file::ConfigArg,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Args)]
struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5100")]
    listen: String,
    /// Registry to ask for the node list at start.
    #[arg(long)]
    registry: Option<String>,
    #[command(flatten)]
    file: config_file::ConfigArg,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Args)]
struct RegistryArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5101")]
    listen: String,
    /// Broker to push the node list to.
    #[arg(long, default_value = "127.0.0.1:5100")]
    broker: String,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    file: config_file::ConfigArg,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(Args)]
struct ServiceArgs {
    /// Node id.
    #[arg(long, default_value = "µHome/dummyService")]
    id: String,
    /// Port on 127.0.0.1 (0 picks one).
    #[arg(long, default_value_t = config::SERVICE_PORT, conflicts_with = "listen")]
    port: u16,
    /// Full address to listen on, instead of --port.
    #[arg(long)]
    listen: Option<String>,
    /// Address to register (default: the bound address).
    #[arg(long)]
    advertise: Option<String>,
    /// Registry to register with.
    #[arg(long, default_value = "127.0.0.1:5101")]
    registry: String,
    /// Broker to subscribe through.
    #[arg(long, default_value = "127.0.0.1:5100")]
    broker: String,
    /// Answer events of this type (or pattern) with their data (repeatable).
    #[arg(long, value_name = "TYPE")]
    echo: Vec<String>,
    /// Subscribe to this type or pattern and print each event received (repeatable).
    #[arg(long, value_name = "PATTERN")]
    log: Vec<String>,
    #[command(flatten)]
    keep: KeepArgs,
    #[command(flatten)]
    file: config_file::ConfigArg,
    #[command(flatten)]
    node: NodeArgs,
}

/// How a service waits for the registry and the broker and keeps its place ([UH-SERVICE-6],
/// [UH-SERVICE-7]).
#[derive(Args, Clone)]
struct KeepArgs {
    /// Check that the registry lists the service, and send the subscriptions again, this
    /// often (at most 30s).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    refresh_interval: Duration,
    /// Exit with an error once the registry or the broker has been out of reach this long
    /// [default: wait forever, retrying 100ms, 200ms, … up to every 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    give_up_after: Option<Duration>,
}

impl KeepArgs {
    fn apply(&self, builder: ServiceBuilder) -> ServiceBuilder {
        builder
            .refresh_interval(self.refresh_interval)
            .give_up_after(self.give_up_after)
    }
}

#[derive(Args)]
struct ClientArgs {
    /// Node id to send as (`source`).
    #[arg(long, default_value = "uhome/cli")]
    source: String,
    /// Deadline of each of connect, write and read.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    timeout: Duration,
}

impl ClientArgs {
    fn client(&self) -> Client {
        Client::with_deadlines(
            self.source.clone(),
            Deadlines {
                connect: self.timeout,
                write: self.timeout,
                read: self.timeout,
            },
        )
    }
}

#[derive(Args)]
struct SendArgs {
    /// Node address, host:port.
    addr: String,
    /// Event type.
    event_type: String,
    /// Event data, as JSON.
    data: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Args)]
struct PublishArgs {
    /// Event type.
    event_type: String,
    /// Event data, as JSON.
    data: Option<String>,
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:5100")]
    broker: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Args)]
struct NodesArgs {
    /// Registry address.
    #[arg(long, default_value = "127.0.0.1:5101")]
    registry: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Parser)]
struct ReplArgs {
    /// Broker address for `publish`.
    #[arg(long, default_value = "127.0.0.1:5100")]
    broker: String,
    /// Registry address for `nodes`.
    #[arg(long, default_value = "127.0.0.1:5101")]
    registry: String,
    #[command(flatten)]
    client: ClientArgs,
}

fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = match config_file::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(config_file::ParseError::Usage(e)) => e.exit(),
        Err(config_file::ParseError::File(message)) => {
            eprintln!("uhome: {message}");
            return ExitCode::from(2);
        }
    };
    // Commands that print results keep the terminal for them; nodes log what they do.
    let quiet = matches!(
        cli.command,
        Command::Send(_)
            | Command::Publish(_)
            | Command::Nodes(_)
            | Command::Sub(_)
            | Command::Config(_)
            | Command::Repl(_)
            | Command::Bench(_)
    );
    init_logging(cli.log_format, if quiet { "warn" } else { "info" });
    if let Command::Repl(args) = cli.command {
        return repl::run_repl(args);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("uhome: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match run(cli.command, until_stopped()).await {
            Ok(code) => code,
            Err(message) => {
                eprintln!("uhome: {message}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Parses DATA as JSON.
pub(crate) fn parse_data(data: Option<&str>) -> Result<Option<Value>, String> {
    data.map(|d| {
        serde_json::from_str(d)
            .map_err(|e| format!("DATA must be JSON ({e}); quote strings, e.g. '\"on\"'"))
    })
    .transpose()
}

/// The exit status for a reply (see `uhome send --help`).
pub(crate) fn exit_for(reply: &ReplyEvent) -> ExitCode {
    match reply.status {
        1 => ExitCode::SUCCESS,
        0 => ExitCode::from(10),
        2 => ExitCode::from(12),
        _ => ExitCode::from(13),
    }
}

/// `uhome send`'s exit status when a core type's reply is not its answer.
const EXIT_NOT_THE_ANSWER: u8 = 11;

/// Why `reply` is not the answer a core request of `event_type` expects: `no_handler`, or a
/// success without the members the type defines. `None` for other types and for refusals
/// (their status says it).
pub(crate) fn core_answer_problem(
    addr: &str,
    event_type: &str,
    reply: &ReplyEvent,
) -> Option<String> {
    use uhome_protocol::core_events;
    let (role, members): (&str, &[&str]) = match event_type {
        core_events::HEALTHCHECK => (
            "node (v0.0.1 brokers and registries have no healthcheck)",
            &[],
        ),
        core_events::REGISTER => ("registry", &["address"]),
        core_events::UNREGISTER => ("registry", &[]),
        core_events::DISCOVER => ("registry", &["nodes"]),
        core_events::NODES | core_events::SUBSCRIBE => ("broker", &[]),
        core_events::UNSUBSCRIBE => ("broker", &["removed"]),
        core_events::PUBLISH => ("broker", &["delivered", "failed"]),
        _ => return None,
    };
    if reply.is_no_handler() {
        return Some(format!(
            "{addr} has no handler for {event_type}: is it a µHome {role}?"
        ));
    }
    if !reply.is_success() {
        return None;
    }
    let data = reply.data_value().unwrap_or_default();
    members
        .iter()
        .find(|m| data.get(**m).is_none())
        .map(|m| format!("{addr} answered {event_type} without `{m}`: is it a µHome {role}?"))
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn until_stopped() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs one command; node commands serve until `stop` completes.
async fn run(
    command: Command,
    stop: impl std::future::Future<Output = ()>,
) -> Result<ExitCode, String> {
    match command {
        Command::Mesh(args) => {
            args.file.announce();
            let broker = broker::start(
                &args.broker_listen,
                BrokerConfig {
                    // The registry in this process pushes its list when it starts.
                    registry: None,
                    server: args.node.server(),
                    ..BrokerConfig::default()
                },
            )
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.broker_listen))?;
            let config = args
                .state
                .registry(Some(broker.local_addr().to_string()), &args.node)?;
            let registry = registry::start(&args.registry_listen, config)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "µHome mesh: broker on {}, registry on {} ({})",
                broker.local_addr(),
                registry.local_addr(),
                args.state
                    .data_dir()?
                    .map(|d| format!("state in {}", d.display()))
                    .unwrap_or_else(|| "in memory".into())
            );
            stop.await;
            registry.shutdown().await;
            broker.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Broker(args) => {
            args.file.announce();
            let broker = broker::start(
                &args.listen,
                BrokerConfig {
                    registry: args.registry,
                    server: args.node.server(),
                    ..BrokerConfig::default()
                },
            )
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
            eprintln!("µHome broker on {}", broker.local_addr());
            stop.await;
            broker.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Registry(args) => {
            args.file.announce();
            let config = args.state.registry(Some(args.broker), &args.node)?;
            let registry = registry::start(&args.listen, config)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("µHome registry on {}", registry.local_addr());
            stop.await;
            registry.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Service(args) => run_service(args, stop).await,
        Command::Send(args) => {
            let data = parse_data(args.data.as_deref())?;
            let reply = args
                .client
                .client()
                .request(&args.addr, &args.event_type, data.as_ref())
                .await
                .map_err(|e| e.to_string())?;
            print_json(&reply.to_json());
            if let Some(problem) = core_answer_problem(&args.addr, &args.event_type, &reply) {
                eprintln!("uhome: {problem}");
                return Ok(ExitCode::from(EXIT_NOT_THE_ANSWER));
            }
            Ok(exit_for(&reply))
        }
        Command::Publish(args) => {
            let data = parse_data(args.data.as_deref())?;
            let report = service::publish(
                &args.client.client(),
                &args.broker,
                &args.event_type,
                data.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?;
            print_json(&json!({ "delivered": report.delivered, "failed": report.failed }));
            Ok(ExitCode::SUCCESS)
        }
        Command::Nodes(args) => {
            let nodes = service::discover(&args.client.client(), &args.registry)
                .await
                .map_err(|e| e.to_string())?;
            let list: Vec<Value> = nodes
                .iter()
                .map(|n| json!({ "nodeId": n.node_id, "address": n.address }))
                .collect();
            print_json(&Value::Array(list));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sub(args) => sub::run(args, stop).await,
        Command::Config(args) => match args.action {
            config_file::ConfigAction::Example { command } => {
                print!("{}", config_file::example(command));
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Repl(_) => Err("already in the REPL".into()),
        Command::Bench(args) => bench::run(args).await,
    }
}

async fn run_service(
    args: ServiceArgs,
    stop: impl std::future::Future<Output = ()>,
) -> Result<ExitCode, String> {
    args.file.announce();
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| format!("127.0.0.1:{}", args.port));
    let mut builder = Service::builder(args.id.clone())
        .listen(listen)
        .registry(args.registry)
        .broker(args.broker)
        .server_config(args.node.server());
    if let Some(advertise) = args.advertise {
        builder = builder.advertise(advertise);
    }
    for event_type in &args.echo {
        builder = builder.handle(event_type.clone(), |request: OwnedEvent| async move {
            let mut extra = serde_json::Map::new();
            extra.insert("echo".into(), request.data_value().unwrap_or(Value::Null));
            Reply::response("echo", "Echo", extra)
        });
    }
    for pattern in &args.log {
        let id = args.id.clone();
        builder = builder
            .handle(pattern.clone(), move |request: OwnedEvent| {
                let id = id.clone();
                async move {
                    println!(
                        "{} {id} received {} from {}: {}",
                        request.timestamp,
                        request.event_type,
                        request.source,
                        request.data.as_deref().unwrap_or("(no data)")
                    );
                    Reply::response("received", "Received", serde_json::Map::new())
                }
            })
            .subscribe(pattern.clone());
    }
    let service = args
        .keep
        .apply(builder)
        .spawn()
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("µHome service {} on {}", service.id(), service.local_addr());
    let outcome = tokio::select! {
        () = stop => Ok(ExitCode::SUCCESS),
        e = service.failed() => Err(e.to_string()),
    };
    service.shutdown().await;
    outcome
}
