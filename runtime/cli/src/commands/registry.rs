//! `uhome registry`: the service registry.

use std::future::Future;
use std::process::ExitCode;

use uhome_runtime::registry;

use crate::args::RegistryArgs;

/// Serves the registry until `stop`.
pub async fn run(args: RegistryArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
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
