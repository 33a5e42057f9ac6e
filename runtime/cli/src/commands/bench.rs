//! `uhome bench`: loopback figures for the README, each beside the floor measured in the
//! same run — a plain tokio client and server exchanging 200 bytes per connection.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uhome_runtime::broker::{self, BrokerConfig};
use uhome_runtime::registry::{self, RegistryConfig};
use uhome_runtime::service::Service;
use uhome_runtime::{Client, Reply};

use crate::args::BenchArgs;

const FLOOR_BYTES: usize = 200;

struct Figures {
    name: String,
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    per_second: f64,
    unit: &'static str,
}

async fn floor_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; FLOOR_BYTES];
                if stream.read_exact(&mut buf).await.is_ok() {
                    let _ = stream.write_all(&buf).await;
                }
            });
        }
    });
    Ok(addr)
}

async fn floor_exchange(addr: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buf = [7u8; FLOOR_BYTES];
    stream.write_all(&buf).await?;
    stream.read_exact(&mut buf).await?;
    Ok(())
}

/// Latency of `n` sequential calls of `op`.
async fn latency<F, Fut>(n: usize, mut op: F) -> Result<Histogram<u64>, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for _ in 0..n {
        let start = Instant::now();
        op().await?;
        let _ = hist.record(start.elapsed().as_micros() as u64);
    }
    Ok(hist)
}

/// Completed operations per second with `concurrency` workers for `duration`; each worker
/// gets its own state from `make`.
async fn throughput<S, M, F, Fut>(
    concurrency: usize,
    duration: Duration,
    make: M,
    op: F,
) -> Result<f64, String>
where
    S: Send + 'static,
    M: Fn() -> S,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (S, Result<u64, String>)> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (done, op, mut state) = (done.clone(), op.clone(), make());
        workers.spawn(async move {
            while Instant::now() < stop {
                let (next, result) = op(state).await;
                state = next;
                done.fetch_add(result?, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        });
    }
    let start = Instant::now();
    while let Some(joined) = workers.join_next().await {
        joined.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

fn figures(
    name: &str,
    hist: Option<&Histogram<u64>>,
    per_second: f64,
    unit: &'static str,
) -> Figures {
    Figures {
        name: name.into(),
        p50_us: hist.map(|h| h.value_at_quantile(0.5) as f64),
        p99_us: hist.map(|h| h.value_at_quantile(0.99) as f64),
        per_second,
        unit,
    }
}

/// Runs every measurement and prints the table.
pub async fn run(args: BenchArgs) -> Result<ExitCode, String> {
    let floor = floor_server().await.map_err(|e| e.to_string())?;
    let payload = json!({ "pad": "x".repeat(40) });
    let service = Service::builder("bench/echo")
        .handle(
            "bench.echo",
            |request: uhome_runtime::OwnedEvent| async move {
                let mut extra = serde_json::Map::new();
                extra.insert("echo".into(), request.data_value().unwrap_or(Value::Null));
                Reply::response("echo", "Echo", extra)
            },
        )
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let target = service.local_addr().to_string();
    let client = Client::new("bench/client");
    let request = Arc::new(client.event("bench.echo", Some(&payload)));
    let request_bytes = client.encode(&request).map_err(|e| e.to_string())?.len();
    let mut results = Vec::new();

    let floor_hist = latency(args.requests, || {
        let floor = floor.clone();
        async move { floor_exchange(&floor).await.map_err(|e| e.to_string()) }
    })
    .await?;
    let floor_rate = throughput(
        args.concurrency,
        args.duration,
        || floor.clone(),
        |floor: String| async move {
            let r = floor_exchange(&floor)
                .await
                .map(|_| 1)
                .map_err(|e| e.to_string());
            (floor, r)
        },
    )
    .await?;
    results.push(figures(
        "floor: tokio connect, write 200 B, read 200 B, close",
        Some(&floor_hist),
        floor_rate,
        "exchanges/s",
    ));

    let hist = latency(args.requests, || {
        let (client, target, request) = (client.clone(), target.clone(), request.clone());
        async move {
            client
                .send(&target, &request.renewed())
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await?;
    let rate = throughput(
        args.concurrency,
        args.duration,
        || (client.clone(), target.clone(), request.clone()),
        |state| async move {
            let r = state
                .0
                .send(&state.1, &state.2)
                .await
                .map(|_| 1)
                .map_err(|e| e.to_string());
            (state, r)
        },
    )
    .await?;
    results.push(figures(
        &format!("request/reply, one connection each ({request_bytes} B request)"),
        Some(&hist),
        rate,
        "requests/s",
    ));

    let mut connection = client.connect(&target).await.map_err(|e| e.to_string())?;
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for _ in 0..args.requests {
        let start = Instant::now();
        connection
            .send(&request.renewed())
            .await
            .map_err(|e| e.to_string())?;
        let _ = hist.record(start.elapsed().as_micros() as u64);
    }
    connection.close().await;
    let mut connections = Vec::new();
    for _ in 0..args.concurrency {
        connections.push(Some(
            client.connect(&target).await.map_err(|e| e.to_string())?,
        ));
    }
    let pool = Arc::new(std::sync::Mutex::new(connections));
    let rate = throughput(
        args.concurrency,
        args.duration,
        || pool.lock().ok().and_then(|mut p| p.pop()).flatten(),
        {
            let request = request.clone();
            move |conn: Option<uhome_runtime::client::Connection>| {
                let request = request.clone();
                async move {
                    let Some(mut conn) = conn else {
                        return (None, Err("no connection".to_string()));
                    };
                    let r = conn
                        .send(&request.renewed())
                        .await
                        .map(|_| 1)
                        .map_err(|e| e.to_string());
                    (Some(conn), r)
                }
            }
        },
    )
    .await?;
    results.push(figures(
        "request/reply, reused connections",
        Some(&hist),
        rate,
        "requests/s",
    ));

    for subscribers in [1usize, 4, 16] {
        let broker = broker::start("127.0.0.1:0", BrokerConfig::default())
            .await
            .map_err(|e| e.to_string())?;
        let registry = registry::start(
            "127.0.0.1:0",
            RegistryConfig {
                broker: Some(broker.local_addr().to_string()),
                health_interval: Duration::from_secs(3600),
                ..RegistryConfig::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        let received = Arc::new(AtomicU64::new(0));
        let mut services = Vec::new();
        for i in 0..subscribers {
            let received = received.clone();
            services.push(
                Service::builder(format!("bench/subscriber-{i}"))
                    .registry(registry.local_addr().to_string())
                    .broker(broker.local_addr().to_string())
                    .handle("bench.>", move |_| {
                        received.fetch_add(1, Ordering::Relaxed);
                        async { Reply::ok("Received") }
                    })
                    .subscribe("bench.>")
                    .start()
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let publish = Arc::new(client.event(
            uhome_protocol::core_events::PUBLISH,
            Some(&json!({ "type": "bench.tick", "data": payload })),
        ));
        let broker_addr = broker.local_addr().to_string();
        let before = received.load(Ordering::Relaxed);
        let start = Instant::now();
        let rate = throughput(
            args.concurrency,
            args.duration,
            || (client.clone(), broker_addr.clone(), publish.clone()),
            |state| async move {
                let r = match state.0.send(&state.1, &state.2.renewed()).await {
                    Ok(reply) => reply
                        .data_value()
                        .and_then(|d| d.get("delivered").and_then(Value::as_u64))
                        .ok_or_else(|| format!("publish refused: {}", reply.describe())),
                    Err(e) => Err(e.to_string()),
                };
                (state, r)
            },
        )
        .await?;
        let counted =
            (received.load(Ordering::Relaxed) - before) as f64 / start.elapsed().as_secs_f64();
        if counted < rate * 0.9 {
            return Err(format!(
                "subscribers counted {counted:.0}/s but the broker reported {rate:.0}/s"
            ));
        }
        results.push(figures(
            &format!("publish → {subscribers} subscriber(s)"),
            None,
            rate,
            "deliveries/s",
        ));
        for s in services {
            s.shutdown().await;
        }
        registry.shutdown().await;
        broker.shutdown().await;
    }
    service.shutdown().await;
    report(&results, &args);
    Ok(ExitCode::SUCCESS)
}

fn report(results: &[Figures], args: &BenchArgs) {
    let Some(floor) = results.first() else {
        return;
    };
    let ratio = |x: Option<f64>, base: Option<f64>| match (x, base) {
        (Some(x), Some(b)) if b > 0.0 => format!("{:.2}×", x / b),
        _ => "—".into(),
    };
    if args.json {
        let rows: Vec<Value> = results
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "p50_us": r.p50_us, "p99_us": r.p99_us,
                    "per_second": r.per_second, "unit": r.unit,
                    "p50_vs_floor": r.p50_us.zip(floor.p50_us).map(|(x, b)| x / b),
                    "p99_vs_floor": r.p99_us.zip(floor.p99_us).map(|(x, b)| x / b),
                    "rate_vs_floor": r.per_second / floor.per_second,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "requests": args.requests, "concurrency": args.concurrency,
                "duration_s": args.duration.as_secs_f64(), "results": rows,
            }))
            .unwrap_or_default()
        );
        return;
    }
    println!(
        "loopback, {} sequential requests for latency, {} concurrent clients for {:?} for rates",
        args.requests, args.concurrency, args.duration
    );
    println!(
        "{:<58} {:>9} {:>9} {:>14}  {:>9} {:>9} {:>9}",
        "measurement", "p50 µs", "p99 µs", "rate", "p50/flr", "p99/flr", "rate/flr"
    );
    for r in results {
        println!(
            "{:<58} {:>9} {:>9} {:>14}  {:>9} {:>9} {:>9}",
            r.name,
            r.p50_us
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "—".into()),
            r.p99_us
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "—".into()),
            format!(
                "{:.0} {}",
                r.per_second,
                r.unit.split('/').next().unwrap_or("")
            ),
            ratio(r.p50_us, floor.p50_us),
            ratio(r.p99_us, floor.p99_us),
            format!("{:.2}×", r.per_second / floor.per_second),
        );
    }
}
