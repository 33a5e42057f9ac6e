//! `uhome registry`: the service registry.

use std::future::Future;
use std::process::ExitCode;

use uhome_protocol::core_events::REGISTRY_ID;
use uhome_runtime::registry;

use crate::args::RegistryArgs;

/// Serves the registry until `stop`.
pub async fn run(args: RegistryArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    args.file.announce();
    let mut config = args.state.registry(Some(args.broker), &args.node)?;
    let security = crate::security::node(&args.security)?;
    crate::security::announce(REGISTRY_ID, &security);
    config.security = Some(security);
    let registry = registry::start(&args.listen, config)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("µHome registry on {}", registry.local_addr());
    stop.await;
    registry.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
