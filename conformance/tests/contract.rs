//! `spec/conformance-contract.md` and the binary agree on every option and its default.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");

/// A flag's defaults: one per command that has it (`None`: no default).
type Defaults = BTreeMap<String, BTreeSet<Option<String>>>;

/// `--option` → defaults from the binary's short help of every command.
fn binary_options() -> Defaults {
    let mut out = BTreeMap::new();
    for command in [
        "", "list", "vectors", "fuzz", "node", "service", "registry", "broker",
    ] {
        let mut args = vec!["help"];
        if !command.is_empty() {
            args.push(command);
        }
        let help = Command::new(BIN).args(&args).output().expect("runs");
        assert!(help.status.success(), "help {command}");
        let text = String::from_utf8(help.stdout).unwrap();
        // The top-level help is long form: each option's lines run to the next option.
        let mut current: Option<String> = None;
        let mut of_command: BTreeMap<String, Option<String>> = BTreeMap::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            let flag = trimmed
                .strip_prefix("-v, ")
                .or(Some(trimmed))
                .filter(|t| t.starts_with("--"))
                .map(|t| t.split([' ', ',']).next().unwrap_or(t).to_string());
            if let Some(flag) = flag {
                current = Some(flag.clone());
                of_command.entry(flag).or_insert(None);
            }
            if let (Some(flag), Some(at)) = (&current, line.find("[default: ")) {
                let value = line[at + 10..].trim_end().trim_end_matches(']').to_string();
                of_command.insert(flag.clone(), Some(value));
            }
        }
        for (flag, default) in of_command {
            out.entry(flag)
                .or_insert_with(BTreeSet::new)
                .insert(default);
        }
    }
    out.remove("--help");
    out.remove("--version");
    out.remove("--as-json");
    out
}

/// `--option` → defaults from the contract's options table (`None`: none, off or required);
/// a flag several commands share with different defaults has a row per default.
fn contract_options() -> Defaults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/conformance-contract.md");
    let text = std::fs::read_to_string(path).unwrap();
    let table = text
        .split("### Options")
        .nth(1)
        .expect("an Options section")
        .split("\n\n")
        .find(|block| block.trim_start().starts_with("| option"))
        .expect("an options table");
    let mut out = BTreeMap::new();
    for row in table.lines().skip(2) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (names, default) = (cells[1], cells[2]);
        let default = default
            .strip_prefix('`')
            .and_then(|d| d.strip_suffix('`'))
            .map(str::to_string);
        if default.is_none() {
            assert!(
                ["none", "off", "required"].contains(&cells[2]),
                "{names}: default {:?}",
                cells[2]
            );
        }
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            assert!(name.starts_with("--"), "{name}");
            out.entry(name.to_string())
                .or_insert_with(BTreeSet::new)
                .insert(default.clone());
        }
    }
    out
}

fn same(a: &str, b: &str) -> bool {
    match (humantime::parse_duration(a), humantime::parse_duration(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn the_contract_and_the_binary_agree_on_every_option_and_default() {
    let (binary, contract) = (binary_options(), contract_options());
    assert!(
        binary.contains_key("--timeout") && binary.len() >= 10,
        "{binary:?}"
    );
    for (flag, default) in &binary {
        let Some(documented) = contract.get(flag) else {
            panic!("{flag} is not in the contract's options table");
        };
        let agree = default.len() == documented.len()
            && default.iter().zip(documented).all(|pair| match pair {
                (None, None) => true,
                (Some(a), Some(b)) => same(a, b),
                _ => false,
            });
        assert!(
            agree,
            "{flag}: the binary says {default:?}, the contract {documented:?}"
        );
    }
    for flag in contract.keys() {
        assert!(
            binary.contains_key(flag),
            "the contract lists {flag}, the binary has none"
        );
    }
}

#[test]
fn the_contract_states_the_timeout_default_where_it_names_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/conformance-contract.md");
    let text = std::fs::read_to_string(path).unwrap();
    let default = binary_options()["--timeout"]
        .iter()
        .next()
        .cloned()
        .flatten()
        .unwrap();
    for (at, _) in text.match_indices("`--timeout` (default ") {
        let stated = &text[at + 21..];
        let stated = &stated[..stated.find(')').unwrap()];
        assert!(
            same(stated, &default),
            "the prose says {stated}, the binary {default}"
        );
    }
}
