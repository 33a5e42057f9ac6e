//! `uhome repl`: send, publish and list nodes interactively.

use std::process::ExitCode;

use rustyline::error::ReadlineError;
use serde_json::json;
use uhome_runtime::service;
use uhome_runtime::Client;

use crate::{parse_data, ReplArgs};

const HELP: &str = "\
commands:
  send ADDR TYPE [DATA]   send an event to a node, print the reply
  publish TYPE [DATA]     publish through the broker, print the delivery report
  nodes                   list the registered nodes
  health ADDR             healthcheck a node
  broker [ADDR]           show or set the broker address
  registry [ADDR]         show or set the registry address
  help                    this text
  exit, quit              leave (Ctrl-D too)
DATA is JSON, e.g. {\"level\": 80} or \"on\".";

struct Session {
    client: Client,
    broker: String,
    registry: String,
}

enum Next {
    Continue,
    Exit,
}

/// Splits off the first `n` whitespace-separated words; the rest of the line stays whole
/// (JSON data may hold spaces).
fn words(line: &str, n: usize) -> (Vec<&str>, Option<&str>) {
    let mut out = Vec::new();
    let mut rest = line.trim();
    while out.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (out, (!rest.is_empty()).then_some(rest))
}

fn show(value: serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
}

async fn execute(session: &mut Session, line: &str) -> Next {
    let (head, _) = words(line, 1);
    let Some(&command) = head.first() else {
        return Next::Continue;
    };
    let result: Result<(), String> = match command {
        "help" | "?" => {
            println!("{HELP}");
            Ok(())
        }
        "exit" | "quit" => return Next::Exit,
        "send" => match words(line, 3) {
            (w, data) if w.len() == 3 => match parse_data(data) {
                Ok(data) => session
                    .client
                    .request(w[1], w[2], data.as_ref())
                    .await
                    .map(|reply| show(reply.to_json()))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            _ => Err("usage: send ADDR TYPE [DATA]".into()),
        },
        "publish" => match words(line, 2) {
            (w, data) if w.len() == 2 => match parse_data(data) {
                Ok(data) => service::publish(&session.client, &session.broker, w[1], data.as_ref())
                    .await
                    .map(|r| show(json!({"delivered": r.delivered, "failed": r.failed})))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            _ => Err("usage: publish TYPE [DATA]".into()),
        },
        "nodes" => session
            .client
            .request(&session.registry, uhome_protocol::core::DISCOVER, None)
            .await
            .map(|reply| match reply.data_value() {
                Some(data) if reply.is_success() => show(data["nodes"].clone()),
                _ => show(reply.to_json()),
            })
            .map_err(|e| e.to_string()),
        "health" => match words(line, 2) {
            (w, None) if w.len() == 2 => session
                .client
                .request(w[1], uhome_protocol::core::HEALTHCHECK, None)
                .await
                .map(|reply| show(reply.to_json()))
                .map_err(|e| e.to_string()),
            _ => Err("usage: health ADDR".into()),
        },
        "broker" | "registry" => {
            let (w, _) = words(line, 2);
            let target = if command == "broker" {
                &mut session.broker
            } else {
                &mut session.registry
            };
            if let Some(addr) = w.get(1) {
                *target = addr.to_string();
            }
            println!("{command} {target}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}; type help")),
    };
    if let Err(e) = result {
        println!("error: {e}");
    }
    Next::Continue
}

/// Runs the shell until `exit` or end of input.
pub fn run(args: ReplArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("uhome: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("uhome: cannot start the line editor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let history = dirs::data_local_dir().map(|d| d.join("uhome").join("repl-history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut session = Session {
        client: args.client.client(),
        broker: args.broker,
        registry: args.registry,
    };
    println!(
        "µHome REPL: broker {}, registry {}. Type help.",
        session.broker, session.registry
    );
    loop {
        match editor.readline("uhome> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Next::Exit = runtime.block_on(execute(&mut session, &line)) {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("uhome: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(path);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn data_keeps_its_spaces() {
        assert_eq!(
            words("send 127.0.0.1:1 a.b {\"x\": [1, 2]}", 3),
            (vec!["send", "127.0.0.1:1", "a.b"], Some("{\"x\": [1, 2]}"))
        );
        assert_eq!(words("  nodes  ", 1), (vec!["nodes"], None));
        assert_eq!(words("publish", 2), (vec!["publish"], None));
    }
}
