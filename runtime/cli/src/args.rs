//! The command line of `uhome`: every command's flags, as clap reads them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::{self, ServerConfig, BROKER_PORT, REGISTRY_PORT};
use uhome_runtime::registry::RegistryConfig;
use uhome_runtime::security::Mode;
use uhome_runtime::service::ServiceBuilder;
use uhome_runtime::Client;

#[derive(Parser)]
#[command(
    name = "uhome",
    version,
    about = "µHome: run a home-automation mesh, send and publish events"
)]
pub struct Cli {
    /// Log format on stderr (filter with RUST_LOG; default `info` for nodes, `warn` otherwise).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
pub enum Command {
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
    Sub(SubArgs),
    /// An interactive shell for every command, with line editing and history; nodes started
    /// there run in the background.
    Repl(ReplArgs),
    /// Measure request/reply latency and throughput, and publish fan-out, on loopback.
    Bench(BenchArgs),
    /// Configuration files: `uhome config example [COMMAND]` prints a commented one.
    Config(ConfigArgs),
    /// Bridge the mesh to another system: `uhome bridge mqtt`.
    Bridge(BridgeArgs),
    /// Node keys for signed frames: `uhome key new FILE`, `uhome key show FILE`.
    Key(KeyArgs),
}

/// Options of `uhome key`.
#[derive(Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub action: KeyAction,
}

/// What `uhome key` does.
#[derive(Subcommand)]
pub enum KeyAction {
    /// Create FILE (mode 0600, never overwritten) with a new Ed25519 secret key, and print
    /// its public key and key id for the policy file.
    New {
        /// The key file to create.
        file: PathBuf,
    },
    /// Print the public key and key id of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

/// Signed frames (section 14 of `spec/protocol.md`): with neither flag a node runs `compat` without
/// a key, serving unauthenticated requests from the loopback and private ranges only.
#[derive(Args, Clone, Default)]
pub struct SecurityArgs {
    /// This node's secret key (`uhome key new FILE`; refused when others can read it).
    #[arg(long, value_name = "FILE", requires = "policy")]
    pub key_file: Option<PathBuf>,
    /// The operator's policy file: the mode, the keys pinned to node ids, what each may do.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// `secure` or `compat` [default: the policy's `mode`].
    #[arg(long, value_name = "MODE", requires = "policy")]
    pub mode: Option<Mode>,
    /// Without a policy: serve unauthenticated requests from this CIDR block (repeatable)
    /// instead of the loopback and private ranges.
    #[arg(long, value_name = "CIDR", conflicts_with = "policy")]
    pub compat_allow: Vec<String>,
}

#[derive(Args, Clone)]
pub struct NodeArgs {
    /// Close connections with no complete frame for this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub idle_timeout: Duration,
    /// Connections served at once (more wait in the listen backlog).
    #[arg(long, default_value_t = config::MAX_CONNECTIONS)]
    pub max_connections: usize,
}

impl NodeArgs {
    pub fn server(&self) -> ServerConfig {
        ServerConfig {
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            ..ServerConfig::default()
        }
    }
}

#[derive(Args, Clone)]
pub struct StateArgs {
    /// Directory of the registry's state [default: the user's data directory, `uhome/`].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep nothing on disk: registrations are lost when the process stops.
    #[arg(long, conflicts_with = "data_dir")]
    pub memory: bool,
    /// Interval of the registry's health checks.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub health_interval: Duration,
    /// Evict a node after this many failed health checks in a row.
    #[arg(long, default_value_t = config::EVICT_AFTER)]
    pub evict_after: u32,
}

impl StateArgs {
    pub fn data_dir(&self) -> Result<Option<PathBuf>, String> {
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

    pub fn registry(
        &self,
        broker: Option<String>,
        node: &NodeArgs,
    ) -> Result<RegistryConfig, String> {
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
pub struct MeshArgs {
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker_listen: String,
    /// Registry address.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub registry_listen: String,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub file: ConfigArg,
    #[command(flatten)]
    pub node: NodeArgs,
    /// The operator's policy file (see `uhome broker --help`); with it, the two key files.
    #[arg(long, value_name = "FILE", requires_all = ["registry_key_file", "broker_key_file"])]
    pub policy: Option<PathBuf>,
    /// The registry's secret key file.
    #[arg(long, value_name = "FILE", requires = "policy")]
    pub registry_key_file: Option<PathBuf>,
    /// The broker's secret key file.
    #[arg(long, value_name = "FILE", requires = "policy")]
    pub broker_key_file: Option<PathBuf>,
    /// `secure` or `compat` [default: the policy's `mode`; without a policy, `compat`
    /// without keys: unauthenticated requests from the loopback and private ranges only].
    #[arg(long, value_name = "MODE", requires = "policy")]
    pub mode: Option<Mode>,
    /// Without a policy: serve unauthenticated requests from this CIDR block (repeatable)
    /// instead of the loopback and private ranges.
    #[arg(long, value_name = "CIDR", conflicts_with = "policy")]
    pub compat_allow: Vec<String>,
}

#[derive(Args)]
pub struct BrokerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub listen: String,
    /// Registry to ask for the node list at start.
    #[arg(long)]
    pub registry: Option<String>,
    #[command(flatten)]
    pub file: ConfigArg,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
}

#[derive(Args)]
pub struct RegistryArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub listen: String,
    /// Broker to push the node list to.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker: String,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub file: ConfigArg,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
}

#[derive(Args)]
pub struct ServiceArgs {
    /// Node id.
    #[arg(long, default_value = "µHome/dummyService")]
    pub id: String,
    /// Port on 127.0.0.1 (0 picks one).
    #[arg(long, default_value_t = config::SERVICE_PORT, conflicts_with = "listen")]
    pub port: u16,
    /// Full address to listen on, instead of --port.
    #[arg(long)]
    pub listen: Option<String>,
    /// Address to register (default: the bound address).
    #[arg(long)]
    pub advertise: Option<String>,
    /// Registry to register with.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub registry: String,
    /// Broker to subscribe through.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker: String,
    /// Answer events of this type (or pattern) with their data (repeatable).
    #[arg(long, value_name = "TYPE")]
    pub echo: Vec<String>,
    /// Subscribe to this type or pattern and print each event received (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub log: Vec<String>,
    #[command(flatten)]
    pub keep: KeepArgs,
    #[command(flatten)]
    pub file: ConfigArg,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// How a service waits for the registry and the broker and keeps its place ([UH-SERVICE-6],
/// [UH-SERVICE-7]).
#[derive(Args, Clone)]
pub struct KeepArgs {
    /// Check that the registry lists the service, and send the subscriptions again, this
    /// often (at most 30s).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub refresh_interval: Duration,
    /// Exit with an error once the registry or the broker has been out of reach this long
    /// [default: wait forever, retrying 100ms, 200ms, … up to every 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub give_up_after: Option<Duration>,
}

impl KeepArgs {
    pub fn apply(&self, builder: ServiceBuilder) -> ServiceBuilder {
        builder
            .refresh_interval(self.refresh_interval)
            .give_up_after(self.give_up_after)
    }
}

#[derive(Args)]
pub struct ClientArgs {
    /// Node id to send as (`source`).
    #[arg(long, default_value = "uhome/cli")]
    pub source: String,
    /// Deadline of each of connect, write and read.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub timeout: Duration,
    /// Sign requests with this secret key (`--source` must be the node id the policy pins
    /// it to).
    #[arg(long, value_name = "FILE", requires = "policy")]
    pub key_file: Option<PathBuf>,
    /// The policy file whose keys the replies are verified with.
    #[arg(long, value_name = "FILE", requires = "key_file")]
    pub policy: Option<PathBuf>,
}

impl ClientArgs {
    /// The client, signing when a key and a policy are given; `peers` are the (node id,
    /// address) pairs it will call, whose keys it takes from the policy.
    pub fn client(&self, peers: &[(&str, &str)]) -> Result<Client, String> {
        let client = Client::with_deadlines(
            self.source.clone(),
            Deadlines {
                connect: self.timeout,
                write: self.timeout,
                read: self.timeout,
            },
        );
        let (Some(key), Some(policy)) = (&self.key_file, &self.policy) else {
            return Ok(client);
        };
        let security = crate::security::load(key, policy, None)?;
        for (node_id, address) in peers {
            security.learn_node(node_id, address);
        }
        Ok(client.with_security(security))
    }
}

#[derive(Args)]
pub struct SendArgs {
    /// Node address, host:port.
    pub addr: String,
    /// Event type.
    pub event_type: String,
    /// Event data, as JSON.
    pub data: Option<String>,
    /// The node id at the address, whose key (from `--policy`) the request is signed for.
    #[arg(long, value_name = "NODE_ID", requires = "policy")]
    pub to: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct PublishArgs {
    /// Event type.
    pub event_type: String,
    /// Event data, as JSON.
    pub data: Option<String>,
    /// Broker address.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker: String,
    /// Do not wait for the deliveries: the broker answers `queued` with how many started
    /// (a broker without this answers with the report).
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args)]
pub struct NodesArgs {
    /// Registry address.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub registry: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Parser)]
pub struct ReplArgs {
    /// Broker address for `publish`.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker: String,
    /// Registry address for `nodes`.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub registry: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `uhome sub`.
#[derive(Args, Clone)]
pub struct SubArgs {
    /// Types or patterns to subscribe to (`*` matches one token, a final `>` the rest).
    #[arg(required = true, value_name = "PATTERN")]
    pub patterns: Vec<String>,
    /// Print each event as one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit after this long (with --count, an error when fewer events came).
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// Registry to register with.
    #[arg(long, default_value_t = format!("127.0.0.1:{REGISTRY_PORT}"))]
    pub registry: String,
    /// Broker to subscribe through.
    #[arg(long, default_value_t = format!("127.0.0.1:{BROKER_PORT}"))]
    pub broker: String,
    /// Node id [default: `uhome/sub-` and 8 random hex digits].
    #[arg(long)]
    pub id: Option<String>,
    /// Address to listen on for deliveries.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Address to register, when the broker reaches this host otherwise.
    #[arg(long)]
    pub advertise: Option<String>,
    /// Exit with an error when the registry or the broker stays out of reach this long.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub give_up_after: Duration,
    /// With `--key-file`, `--id` must be the node id the policy pins the key to.
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// Options of `uhome bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Sequential requests per latency measurement.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Concurrent clients in throughput measurements.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Length of each throughput measurement.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub duration: Duration,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--config FILE`, flattened into the node commands.
#[derive(Args, Clone)]
pub struct ConfigArg {
    /// Read settings from this TOML file (`uhome config example` writes one); flags given
    /// here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// Logs which file the settings came from.
    pub fn announce(&self) {
        if let Some(path) = &self.config {
            tracing::info!(file = %path.display(), "settings read from the configuration file");
        }
    }
}

/// Options of `uhome config`.
#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// What `uhome config` does.
#[derive(Subcommand)]
pub enum ConfigAction {
    /// Print a commented configuration file for a node command, with its defaults.
    Example {
        /// The command the file is for.
        #[arg(value_enum, default_value_t = NodeCommand::Mesh)]
        command: NodeCommand,
    },
}

/// A command that reads a configuration file.
#[derive(Clone, Copy, ValueEnum)]
pub enum NodeCommand {
    /// `uhome mesh`
    Mesh,
    /// `uhome broker`
    Broker,
    /// `uhome registry`
    Registry,
    /// `uhome service`
    Service,
    /// `uhome bridge mqtt` (its keys in a `[bridge.mqtt]` table)
    BridgeMqtt,
}

impl NodeCommand {
    /// The subcommand names, e.g. `["bridge", "mqtt"]`.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            NodeCommand::Mesh => &["mesh"],
            NodeCommand::Broker => &["broker"],
            NodeCommand::Registry => &["registry"],
            NodeCommand::Service => &["service"],
            NodeCommand::BridgeMqtt => &["bridge", "mqtt"],
        }
    }
}

/// Options of `uhome bridge`.
#[derive(Args)]
pub struct BridgeArgs {
    #[command(subcommand)]
    pub kind: BridgeKind,
}

/// What `uhome bridge` connects the mesh to.
#[derive(Subcommand)]
pub enum BridgeKind {
    /// Bridge µHome events to an MQTT broker and back (Home Assistant, Zigbee2MQTT, …).
    ///
    /// µHome type `home.lamp.on` ↔ topic `PREFIX/home/lamp/on`. The bridge publishes into
    /// µHome as its own node id and drops what it published coming back (MQTT 5: no-local
    /// subscriptions and a `uhome-bridge` user property; MQTT 3.1.1: the echo of a recent
    /// publish), so a pattern may be bridged both ways.
    Mqtt(MqttBridgeArgs),
}

/// The MQTT protocol version, as flags name it.
#[derive(Clone, Copy, ValueEnum)]
pub enum MqttVersionArg {
    /// MQTT 3.1.1.
    #[value(name = "3.1.1")]
    V311,
    /// MQTT 5.
    #[value(name = "5")]
    V5,
}

/// Options of `uhome bridge mqtt`.
#[derive(Args)]
pub struct MqttBridgeArgs {
    /// Node id of the bridge in the mesh (the `source` of what it publishes there).
    #[arg(long, default_value = "uhome/mqtt-bridge")]
    pub id: String,
    #[command(flatten)]
    pub security: SecurityArgs,
    /// Address to listen on for deliveries.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Address to register, when the broker reaches this host otherwise.
    #[arg(long)]
    pub advertise: Option<String>,
    /// Registry to register with.
    #[arg(long, default_value_t = format!("127.0.0.1:{REGISTRY_PORT}"))]
    pub registry: String,
    /// µHome broker to subscribe and publish through.
    #[arg(long, default_value_t = format!("127.0.0.1:{BROKER_PORT}"))]
    pub broker: String,
    /// MQTT broker host.
    #[arg(long, default_value = "127.0.0.1")]
    pub mqtt_host: String,
    /// MQTT broker port.
    #[arg(long, default_value_t = 1883)]
    pub mqtt_port: u16,
    /// MQTT client id (one per broker: a second client with the same id takes over).
    #[arg(long, default_value = "uhome-bridge")]
    pub mqtt_client_id: String,
    /// MQTT protocol version.
    #[arg(long, value_enum, default_value_t = MqttVersionArg::V311)]
    pub mqtt_version: MqttVersionArg,
    /// MQTT user name.
    #[arg(long)]
    pub username: Option<String>,
    /// MQTT password (or the environment variable UHOME_MQTT_PASSWORD).
    #[arg(long, env = "UHOME_MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Connect to the MQTT broker with TLS.
    #[arg(long)]
    pub tls: bool,
    /// PEM file of the certificate authorities TLS trusts [default: the system's,
    /// /etc/ssl/certs/ca-certificates.crt].
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// MQTT keep-alive interval.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub keep_alive: Duration,
    /// Topic prefix of µHome types (empty: none).
    #[arg(long, default_value = "uhome")]
    pub prefix: String,
    /// Publish the whole µHome event (id, timestamp, source, type, data) as the MQTT
    /// payload instead of its data.
    #[arg(long)]
    pub envelope: bool,
    /// µHome pattern to publish on MQTT, `PATTERN[;qos=0|1|2][;retain]` (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub to_mqtt: Vec<String>,
    /// MQTT topic filter to publish into µHome, `FILTER[;qos=0|1|2]` (repeatable).
    #[arg(long, value_name = "FILTER")]
    pub from_mqtt: Vec<String>,
    /// µHome pattern bridged both ways: to MQTT, and from the MQTT filter matching the same
    /// topics, `PATTERN[;qos=0|1|2][;retain]` (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub both: Vec<String>,
    /// Messages kept per direction while the other side is down (the oldest are dropped).
    #[arg(long, default_value_t = 1000)]
    pub buffer: usize,
    /// Log the bridge's counts this often (0s: never).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1m")]
    pub stats_interval: Duration,
    /// Publish Home Assistant MQTT discovery configs for the --ha-entity types.
    #[arg(long)]
    pub ha_discovery: bool,
    /// Home Assistant's discovery prefix.
    #[arg(long, default_value = "homeassistant")]
    pub ha_prefix: String,
    /// A Home Assistant entity, `TYPE=COMPONENT[;name=…][;unit=…][;device_class=…]
    /// [;value_template=…][;command=TYPE]` (repeatable; with --ha-discovery).
    #[arg(long, value_name = "ENTITY")]
    pub ha_entity: Vec<String>,
    #[command(flatten)]
    pub file: ConfigArg,
}
