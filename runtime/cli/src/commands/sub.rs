//! `uhome sub PATTERN…`: watch the mesh. A temporary node registers, subscribes to the
//! patterns, prints each event delivered to it, and unregisters when it stops.

use std::future::Future;
use std::process::ExitCode;

use serde_json::{Map, Value};
use tokio::sync::mpsc;
use uhome_runtime::client::Deadlines;
use uhome_runtime::config::CLIENT_TIMEOUT;
use uhome_runtime::service::Service;
use uhome_runtime::{OwnedEvent, Reply};

use crate::args::SubArgs;

fn line(request: &OwnedEvent, json: bool) -> String {
    if json {
        let mut event = Map::new();
        event.insert("id".into(), request.id.clone().into());
        event.insert("timestamp".into(), request.timestamp.clone().into());
        event.insert("source".into(), request.source.clone().into());
        event.insert("type".into(), request.event_type.clone().into());
        if let Some(data) = &request.data {
            event.insert(
                "data".into(),
                request
                    .data_value()
                    .unwrap_or_else(|| Value::String(data.clone())),
            );
        }
        Value::Object(event).to_string()
    } else {
        format!(
            "{} {} from {}: {}",
            request.timestamp,
            request.event_type,
            request.source,
            request.data.as_deref().unwrap_or("(no data)")
        )
    }
}

/// Runs `uhome sub` until the count, the timeout, or `stop`.
pub async fn run(args: SubArgs, stop: impl Future<Output = ()>) -> Result<ExitCode, String> {
    let id = args.id.clone().unwrap_or_else(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("uhome/sub-{}", &random[..8])
    });
    let (tx, mut events) = mpsc::unbounded_channel::<OwnedEvent>();
    let mut builder = Service::builder(id)
        .listen(args.listen.clone())
        .registry(args.registry.clone())
        .broker(args.broker.clone())
        .give_up_after(Some(args.give_up_after))
        .deadlines(Deadlines {
            connect: CLIENT_TIMEOUT,
            write: CLIENT_TIMEOUT,
            read: CLIENT_TIMEOUT,
        });
    if let Some(advertise) = &args.advertise {
        builder = builder.advertise(advertise.clone());
    }
    builder = builder.security(crate::security::node(&args.security)?);
    for pattern in &args.patterns {
        let tx = tx.clone();
        builder = builder
            .handle(pattern.clone(), move |request: OwnedEvent| {
                let _ = tx.send(request);
                async { Reply::response("received", "Received", Map::new()) }
            })
            .subscribe(pattern.clone());
    }
    drop(tx);
    let deadline = args.timeout.map(|t| tokio::time::Instant::now() + t);
    let service = builder.start().await.map_err(|e| e.to_string())?;
    eprintln!(
        "µHome sub {} on {}: {} (Ctrl-C to stop)",
        service.id(),
        service.local_addr(),
        args.patterns.join(" ")
    );
    let timed_out = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop, timed_out);
    let mut seen = 0u64;
    let outcome = loop {
        if args.count.is_some_and(|n| seen >= n) {
            break Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => {
                    println!("{}", line(&event, args.json));
                    seen += 1;
                }
                None => break Ok(ExitCode::SUCCESS),
            },
            () = &mut stop => break Ok(ExitCode::SUCCESS),
            () = &mut timed_out => break match args.count {
                Some(n) => Err(format!(
                    "timed out after {}: {seen} of {n} events",
                    humantime::format_duration(args.timeout.unwrap_or_default())
                )),
                None => Ok(ExitCode::SUCCESS),
            },
            e = service.failed() => break Err(e.to_string()),
        }
    };
    service.shutdown().await;
    outcome
}
