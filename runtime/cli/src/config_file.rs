//! `--config FILE` for the node commands, and `uhome config example`.
//!
//! A file is TOML: one key per flag of the command (the flag's name, with `_` or `-`),
//! taking what the flag takes (a string, a number, `true`, an array for a repeatable flag).
//! The keys are read from the command's own flags, so every flag has a key. Flags given on
//! the command line override the file's keys — and the keys they conflict with. A nested
//! command's keys sit in its table: `uhome bridge mqtt` reads `[bridge.mqtt]`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::args::{Cli, NodeCommand};

/// The commands that read a configuration file.
pub const NODE_COMMANDS: [&str; 4] = ["mesh", "broker", "registry", "service"];

/// The nested commands that read a configuration file, whose keys sit in the table of the
/// same path.
pub const NESTED_NODE_COMMANDS: [[&str; 2]; 1] = [["bridge", "mqtt"]];

/// Why the command line and its file could not be read.
pub enum ParseError {
    /// The command line itself (clap prints it, with usage).
    Usage(clap::Error),
    /// The configuration file.
    File(String),
}

impl From<clap::Error> for ParseError {
    fn from(e: clap::Error) -> Self {
        ParseError::Usage(e)
    }
}

fn built() -> Command {
    let mut command = Cli::command();
    command.build();
    command
}

/// The flags of `uhome NAME` a file may set: every long flag but `--config`, `--help` and
/// `--version`.
fn keyed_args(command: &Command) -> Vec<&Arg> {
    command
        .get_arguments()
        .filter(|a| {
            a.get_long()
                .is_some_and(|l| !matches!(l, "config" | "help" | "version"))
        })
        .collect()
}

fn key_of(arg: &Arg) -> String {
    arg.get_long().unwrap_or_default().replace('-', "_")
}

fn takes_no_value(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

fn scalar(path: &Path, key: &str, value: &toml::Value) -> Result<String, ParseError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        _ => Err(ParseError::File(format!(
            "{}: `{key}` takes a string or a number",
            path.display()
        ))),
    }
}

fn read_table(path: &Path) -> Result<toml::Table, ParseError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ParseError::File(format!("cannot read {}: {e}", path.display())))?;
    text.parse()
        .map_err(|e| ParseError::File(format!("{}: {e}", path.display())))
}

/// The table at `names` (`[bridge.mqtt]`); every other top-level key is an error.
fn nested_table(
    path: &Path,
    table: toml::Table,
    names: &[&str],
) -> Result<toml::Table, ParseError> {
    let dotted = names.join(".");
    let missing = || {
        ParseError::File(format!(
            "{}: no [{dotted}] table for `uhome {}`",
            path.display(),
            names.join(" ")
        ))
    };
    let mut current = table;
    for name in names {
        if let Some(other) = current.keys().find(|k| k.as_str() != *name) {
            return Err(ParseError::File(format!(
                "{}: unknown key `{other}` for `uhome {}` (its keys go in [{dotted}])",
                path.display(),
                names.join(" ")
            )));
        }
        current = match current.remove(*name) {
            Some(toml::Value::Table(t)) => t,
            _ => return Err(missing()),
        };
    }
    Ok(current)
}

/// The flags a file's `table` stands for, in the file's order, leaving out those the
/// command line sets (or conflicts with); `name` is the command as typed (`bridge mqtt`).
fn file_flags(
    path: &Path,
    table: &toml::Table,
    name: &str,
    command: &Command,
    matches: &ArgMatches,
) -> Result<Vec<String>, ParseError> {
    let args = keyed_args(command);
    let given: Vec<&Arg> = args
        .iter()
        .copied()
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .collect();
    let mut overridden: HashSet<&str> = given.iter().map(|a| a.get_id().as_str()).collect();
    for arg in &args {
        let conflicts = command.get_arg_conflicts_with(arg);
        for other in &given {
            if conflicts.iter().any(|c| c.get_id() == other.get_id()) {
                overridden.insert(arg.get_id().as_str());
            }
            if command
                .get_arg_conflicts_with(other)
                .iter()
                .any(|c| c.get_id() == arg.get_id())
            {
                overridden.insert(arg.get_id().as_str());
            }
        }
    }
    let mut flags = Vec::new();
    for (key, value) in table {
        let Some(arg) = args.iter().find(|a| key_of(a) == key.replace('-', "_")) else {
            let known: Vec<String> = args.iter().map(|a| key_of(a)).collect();
            return Err(ParseError::File(format!(
                "{}: unknown key `{key}` for `uhome {name}` (keys: {})",
                path.display(),
                known.join(", ")
            )));
        };
        // Every key is checked, those the command line overrides too.
        let skip = overridden.contains(arg.get_id().as_str());
        let long = arg.get_long().unwrap_or_default();
        if takes_no_value(arg) {
            match value {
                toml::Value::Boolean(true) if !skip => flags.push(format!("--{long}")),
                toml::Value::Boolean(_) => {}
                _ => {
                    return Err(ParseError::File(format!(
                        "{}: `{key}` is true or false",
                        path.display()
                    )))
                }
            }
            continue;
        }
        let values = match (value, arg.get_action()) {
            (toml::Value::Array(items), ArgAction::Append) => items
                .iter()
                .map(|v| scalar(path, key, v))
                .collect::<Result<Vec<_>, _>>()?,
            (toml::Value::Array(_), _) => {
                return Err(ParseError::File(format!(
                    "{}: `{key}` takes one value, not an array",
                    path.display()
                )))
            }
            (value, _) => vec![scalar(path, key, value)?],
        };
        if !skip {
            flags.extend(values.into_iter().map(|v| format!("--{long}={v}")));
        }
    }
    Ok(flags)
}

/// Parses the command line; for a node command with `--config FILE`, the file's keys come
/// in as flags under those given.
pub fn parse<I, T>(argv: I) -> Result<Cli, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let Some((name, sub)) = matches.subcommand() else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let command = built();
    let (names, sub, node) = match sub.subcommand() {
        Some((inner, inner_sub)) if NESTED_NODE_COMMANDS.contains(&[name, inner]) => {
            let node = command
                .find_subcommand(name)
                .and_then(|c| c.find_subcommand(inner));
            (vec![name, inner], inner_sub, node)
        }
        _ if NODE_COMMANDS.contains(&name) => (vec![name], sub, command.find_subcommand(name)),
        _ => return Ok(Cli::from_arg_matches(&matches)?),
    };
    let path = match sub.try_get_one::<PathBuf>("config") {
        Ok(Some(path)) => path.clone(),
        _ => return Ok(Cli::from_arg_matches(&matches)?),
    };
    let Some(node) = node else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let mut table = read_table(&path)?;
    if names.len() > 1 {
        table = nested_table(&path, table, &names)?;
    }
    let flags = file_flags(&path, &table, &names.join(" "), node, sub)?;
    let mut merged = argv;
    merged.extend(flags.into_iter().map(OsString::from));
    Cli::command()
        .try_get_matches_from(&merged)
        .and_then(|m| Cli::from_arg_matches(&m))
        .map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            ParseError::File(format!(
                "{} (with the settings of {})",
                first.trim_start_matches("error: "),
                path.display()
            ))
        })
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// An example value for a flag without a default.
fn placeholder(key: &str) -> &'static str {
    match key {
        "data_dir" => "\"/var/lib/uhome\"",
        "advertise" => "\"192.168.1.20:5102\"",
        "listen" => "\"0.0.0.0:5102\"",
        "registry" => "\"127.0.0.1:5101\"",
        "give_up_after" => "\"5m\"",
        "echo" => "[\"ping\"]",
        "log" => "[\"home.>\"]",
        "username" => "\"homeassistant\"",
        "password" => "\"secret\"",
        "ca_file" => "\"/etc/ssl/certs/ca-certificates.crt\"",
        "to_mqtt" => "[\"home.>\", \"home.sensor.*;qos=1;retain\"]",
        "from_mqtt" => "[\"zigbee2mqtt/+\"]",
        "both" => "[\"home.lamp.>\"]",
        "ha_entity" => {
            "[\"home.hall.temperature=sensor;unit=°C;device_class=temperature;value_template={{ value_json.celsius }}\"]"
        }
        _ => "\"…\"",
    }
}

/// A commented configuration file for `uhome COMMAND`: every key, with its default, or
/// commented out with an example where there is none.
pub fn example(which: NodeCommand) -> String {
    let command = built();
    let names = which.path();
    let name = names.join(" ");
    let mut node = &command;
    for n in names {
        match node.find_subcommand(n) {
            Some(inner) => node = inner,
            None => return String::new(),
        }
    }
    let mut out = format!(
        "# µHome: settings of `uhome {name} --config FILE`.\n\
         # Every key is a flag of `uhome {name}` (see `uhome {name} --help`); a flag given on\n\
         # the command line overrides its key. Durations read like \"500ms\", \"10s\", \"5m\".\n"
    );
    if names.len() > 1 {
        out.push_str(&format!("\n[{}]\n", names.join(".")));
    }
    for arg in keyed_args(node) {
        let key = key_of(arg);
        out.push('\n');
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        for line in wrap(&help, 86) {
            out.push_str(&format!("# {line}\n"));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let has_conflicts = !node.get_arg_conflicts_with(arg).is_empty()
            || keyed_args(node).iter().any(|other| {
                node.get_arg_conflicts_with(other)
                    .iter()
                    .any(|c| c.get_id() == arg.get_id())
            });
        let (value, commented) = if takes_no_value(arg) {
            ("false".to_string(), has_conflicts)
        } else if let [default] = defaults.as_slice() {
            let value = if default.parse::<u64>().is_ok() {
                default.clone()
            } else {
                toml_string(default)
            };
            (value, has_conflicts)
        } else {
            (placeholder(&key).to_string(), true)
        };
        let hash = if commented { "# " } else { "" };
        out.push_str(&format!("{hash}{key} = {value}\n"));
    }
    out
}
