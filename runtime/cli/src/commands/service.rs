//! `uhome service`: a demo service that echoes or logs events.

use std::future::Future;
use std::process::ExitCode;

use serde_json::Value;
use uhome_runtime::service::Service;
use uhome_runtime::{OwnedEvent, Reply};

use crate::args::ServiceArgs;

/// Serves the demo service until `stop`, or until it gives up on the registry or the broker.
pub async fn run(args: ServiceArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
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
    let security = crate::security::node(&args.security)?;
    crate::security::announce(&args.id, &security);
    builder = builder.security(security);
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
