//! `spec/conformance-contract.md` and the binary agree on every option and its default.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");

/// `--option` → default (`None`: no default) from the binary's short help of every command.
fn binary_options() -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for command in [
        "", "list", "vectors", "node", "service", "registry", "broker",
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
        for line in text.lines() {
            let trimmed = line.trim_start();
            let flag = trimmed
                .strip_prefix("-v, ")
                .or(Some(trimmed))
                .filter(|t| t.starts_with("--"))
                .map(|t| t.split([' ', ',']).next().unwrap_or(t).to_string());
            if let Some(flag) = flag {
                current = Some(flag.clone());
                out.entry(flag).or_insert(None);
            }
            if let (Some(flag), Some(at)) = (&current, line.find("[default: ")) {
                let value = line[at + 10..].trim_end().trim_end_matches(']').to_string();
                out.insert(flag.clone(), Some(value));
            }
        }
    }
    out.remove("--help");
    out.remove("--version");
    out.remove("--as-json");
    out
}

/// `--option` → default from the contract's options table (`None`: none, off or required).
fn contract_options() -> BTreeMap<String, Option<String>> {
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
            out.insert(name.to_string(), default.clone());
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
        match (default, documented) {
            (None, None) => {}
            (Some(a), Some(b)) if same(a, b) => {}
            _ => panic!("{flag}: the binary says {default:?}, the contract {documented:?}"),
        }
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
    let default = binary_options()["--timeout"].clone().unwrap();
    for (at, _) in text.match_indices("`--timeout` (default ") {
        let stated = &text[at + 21..];
        let stated = &stated[..stated.find(')').unwrap()];
        assert!(
            same(stated, &default),
            "the prose says {stated}, the binary {default}"
        );
    }
}
