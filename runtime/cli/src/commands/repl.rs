//! `uhome repl`: every `uhome` command at a prompt, with line editing and history. Node
//! commands (`mesh`, `broker`, `registry`, `service`, `bridge`) run in the background until
//! `stop`.

use std::process::ExitCode;

use clap::CommandFactory;
use rustyline::error::ReadlineError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::{Cli, Command, ReplArgs};
use crate::run;

const HELP: &str = "\
Every uhome command works here, without the leading `uhome` (quote DATA as in a shell):
  send ADDR TYPE [DATA]    publish TYPE [DATA]    nodes    bench
  mesh | broker | registry | service …   start a node in the background
  bridge mqtt …            run an MQTT bridge in the background
  sub PATTERN…             print matching events in the background (stop N ends it)
  <command> --help         that command's options
and the shell's own:
  jobs                     list the nodes started here
  stop [N]                 stop node N, or all of them
  help                     this text
  exit, quit               stop every node and leave (Ctrl-D too)";

struct Job {
    line: String,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

enum Next {
    Continue,
    Exit,
}

/// The default addresses of `repl` apply to commands that do not name theirs.
fn with_defaults(mut words: Vec<String>, args: &ReplArgs) -> Vec<String> {
    let has = |flag: &str| {
        words
            .iter()
            .any(|w| w == flag || w.starts_with(&format!("{flag}=")))
    };
    let add = match words.first().map(String::as_str) {
        Some("publish") if !has("--broker") => vec!["--broker".to_string(), args.broker.clone()],
        Some("nodes") if !has("--registry") => {
            vec!["--registry".to_string(), args.registry.clone()]
        }
        Some("sub") => {
            let mut add = Vec::new();
            if !has("--broker") {
                add.extend(["--broker".to_string(), args.broker.clone()]);
            }
            if !has("--registry") {
                add.extend(["--registry".to_string(), args.registry.clone()]);
            }
            add
        }
        _ => Vec::new(),
    };
    let sourced_here = matches!(
        words.first().map(String::as_str),
        Some("send" | "publish" | "nodes")
    ) && !has("--source");
    let signs_here = matches!(
        words.first().map(String::as_str),
        Some("send" | "publish" | "nodes")
    ) && !has("--key-file");
    if sourced_here {
        words.extend(["--source".to_string(), args.client.source.clone()]);
    }
    if let (Some(key), Some(policy), true) =
        (&args.client.key_file, &args.client.policy, signs_here)
    {
        words.extend([
            "--key-file".to_string(),
            key.display().to_string(),
            "--policy".to_string(),
            policy.display().to_string(),
        ]);
    }
    words.extend(add);
    words
}

async fn stop_jobs(jobs: &mut Vec<Job>, which: Option<usize>) {
    let chosen: Vec<Job> = match which {
        Some(n) if n >= 1 && n <= jobs.len() => vec![jobs.remove(n - 1)],
        Some(n) => {
            println!("no job {n}; see jobs");
            return;
        }
        None => std::mem::take(jobs),
    };
    for job in chosen {
        job.stop.cancel();
        let _ = job.task.await;
        println!("stopped: {}", job.line);
    }
}

async fn execute(line: &str, args: &ReplArgs, jobs: &mut Vec<Job>) -> Next {
    let Some(words) = shlex::split(line) else {
        println!("error: unbalanced quotes");
        return Next::Continue;
    };
    match words.first().map(String::as_str) {
        None => return Next::Continue,
        Some("help" | "?") => {
            println!("{HELP}");
            return Next::Continue;
        }
        Some("exit" | "quit") => return Next::Exit,
        Some("jobs") => {
            for (i, job) in jobs.iter().enumerate() {
                println!("[{}] {}", i + 1, job.line);
            }
            return Next::Continue;
        }
        Some("stop") => {
            let which = words.get(1).and_then(|n| n.parse().ok());
            stop_jobs(jobs, which).await;
            return Next::Continue;
        }
        _ => {}
    }
    let words = with_defaults(words, args);
    let cli = match crate::config_file::parse(std::iter::once("uhome".to_string()).chain(words)) {
        Ok(cli) => cli,
        Err(crate::config_file::ParseError::Usage(e)) => {
            let _ = e.print();
            return Next::Continue;
        }
        Err(crate::config_file::ParseError::File(message)) => {
            println!("error: {message}");
            return Next::Continue;
        }
    };
    match cli.command {
        Command::Repl(_) => println!("error: already in the REPL"),
        command @ (Command::Mesh(_)
        | Command::Broker(_)
        | Command::Registry(_)
        | Command::Service(_)
        | Command::Bridge(_)
        | Command::Sub(_)) => {
            let stop = CancellationToken::new();
            let token = stop.clone();
            let task = tokio::spawn(async move {
                if let Err(e) = run(command, token.cancelled_owned()).await {
                    println!("error: {e}");
                }
            });
            jobs.push(Job {
                line: line.trim().to_string(),
                stop,
                task,
            });
            println!("[{}] started: {}", jobs.len(), line.trim());
        }
        command => match run(command, std::future::ready(())).await {
            Ok(code) if code != ExitCode::SUCCESS => println!("(exit status {code:?})"),
            Ok(_) => {}
            Err(e) => println!("error: {e}"),
        },
    }
    Next::Continue
}

/// Runs the shell until `exit` or end of input.
pub fn run_repl(args: ReplArgs) -> ExitCode {
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
    println!(
        "µHome REPL: broker {}, registry {}. Type help. ({} commands)",
        args.broker,
        args.registry,
        Cli::command().get_subcommands().count()
    );
    let mut jobs = Vec::new();
    loop {
        match editor.readline("uhome> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Next::Exit = runtime.block_on(execute(&line, &args, &mut jobs)) {
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
    runtime.block_on(stop_jobs(&mut jobs, None));
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
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_fill_in_missing_addresses() {
        let args = ReplArgs::parse_from(["repl", "--broker", "b:1", "--registry", "r:2"]);
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            with_defaults(words("nodes"), &args),
            words("nodes --source uhome/cli --registry r:2")
        );
        assert_eq!(
            with_defaults(words("publish a.b --broker x:9"), &args),
            words("publish a.b --broker x:9 --source uhome/cli")
        );
        assert_eq!(
            with_defaults(words("mesh --memory"), &args),
            words("mesh --memory")
        );
        let signing = ReplArgs::parse_from(["repl", "--key-file", "k", "--policy", "p"]);
        assert_eq!(
            with_defaults(words("send a:1 x"), &signing),
            words("send a:1 x --source uhome/cli --key-file k --policy p")
        );
        assert_eq!(
            with_defaults(words("nodes --key-file other --policy q"), &signing),
            words("nodes --key-file other --policy q --source uhome/cli --registry 127.0.0.1:5101")
        );
    }
}
