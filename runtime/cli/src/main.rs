//! `uhome`: run a µHome mesh or its parts, send and publish events, explore in a REPL.

mod args;
mod commands;
mod config_file;
mod security;

use std::future::Future;
use std::process::ExitCode;

use args::{Command, LogFormat};

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

/// Descriptors for a mesh at its connection bounds (two nodes of 1024 connections, their
/// outgoing connections, files), so that the bound and not the descriptor limit is what
/// makes room ([UH-EXCHANGE-17]).
const DESCRIPTORS: u64 = 8192;

fn allow_descriptors() {
    match rlimit::increase_nofile_limit(DESCRIPTORS) {
        Ok(soft) if soft < DESCRIPTORS => tracing::debug!(
            soft,
            "the descriptor limit is below {DESCRIPTORS}: connections past it wait"
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "cannot raise the descriptor limit"),
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
    allow_descriptors();
    if let Command::Repl(args) = cli.command {
        return commands::repl::run_repl(args);
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
pub(crate) async fn run(
    command: Command,
    stop: impl Future<Output = ()>,
) -> Result<ExitCode, String> {
    match command {
        Command::Mesh(args) => commands::mesh::run(args, stop).await,
        Command::Broker(args) => commands::broker::run(args, stop).await,
        Command::Registry(args) => commands::registry::run(args, stop).await,
        Command::Service(args) => commands::service::run(args, stop).await,
        Command::Send(args) => commands::send::run(args).await,
        Command::Publish(args) => commands::publish::run(args).await,
        Command::Nodes(args) => commands::nodes::run(args).await,
        Command::Sub(args) => commands::sub::run(args, stop).await,
        Command::Config(args) => Ok(commands::config::run(args)),
        Command::Repl(_) => Err("already in the REPL".into()),
        Command::Bench(args) => commands::bench::run(args).await,
        Command::Bridge(args) => commands::bridge::run(args, stop).await,
        Command::Key(args) => commands::key::run(args),
    }
}
