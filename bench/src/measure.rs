//! One timed run: worker loops for a duration, a counter read at the window's edges, the
//! broker's CPU time from the start until the counter settles.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::procs::ServerProc;

/// The figures of one run.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// Operations (or deliveries) per second inside the window.
    pub rate: f64,
    /// Operations (requests, publishes) per second inside the window.
    pub ops_rate: f64,
    /// Counted from the window's start until the counter settled.
    pub total: u64,
    /// Broker CPU time per counted operation, µs.
    pub cpu_us_per_op: Option<f64>,
    pub errors: u64,
    pub last_error: Option<String>,
}

impl Run {
    pub fn to_json(&self) -> Value {
        json!({
            "rate_per_s": self.rate,
            "operations_per_s": self.ops_rate,
            "counted": self.total,
            "broker_cpu_us_per_op": self.cpu_us_per_op,
            "errors": self.errors,
            "last_error": self.last_error,
        })
    }
}

/// Runs `workers` loops of `op(worker)` for `duration`. With `counter`, the run's rate is
/// that counter's (deliveries seen by subscribers); without, it counts what the operations
/// return. `ops_rate` is always the operations'.
pub async fn run<F, Fut>(
    duration: Duration,
    workers: usize,
    counter: Option<Arc<AtomicU64>>,
    broker: Option<&ServerProc>,
    op: F,
) -> Result<Run, String>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let counter = counter.unwrap_or_else(|| done.clone());
    let errors = Arc::new(AtomicU64::new(0));
    let last_error = Arc::new(Mutex::new(None::<String>));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = broker.map(ServerProc::cpu_seconds).transpose()?;
    let c0 = counter.load(Ordering::Relaxed);
    let d0 = done.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let (op, done, errors, last_error, stop) = (
            op.clone(),
            done.clone(),
            errors.clone(),
            last_error.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match op(worker).await {
                    Ok(n) => {
                        done.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut last) = last_error.lock() {
                            *last = Some(e);
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        });
    }
    tokio::time::sleep(duration).await;
    let c1 = counter.load(Ordering::Relaxed);
    let d1 = done.load(Ordering::Relaxed);
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let joined = tokio::time::timeout(Duration::from_secs(30), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if joined.is_err() {
        tasks.abort_all();
    }
    // Deliveries still queued in the broker or in flight, for at most 2 s: broker CPU and
    // deliveries are both read at the end, so a cut backlog leaves the ratio right.
    let settle = Instant::now() + Duration::from_secs(2);
    loop {
        let before = counter.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if counter.load(Ordering::Relaxed) == before || Instant::now() > settle {
            break;
        }
    }
    let total = counter.load(Ordering::Relaxed).saturating_sub(c0);
    let cpu = match (cpu0, broker) {
        (Some(cpu0), Some(broker)) => Some(broker.cpu_seconds()? - cpu0),
        _ => None,
    };
    let last_error = last_error.lock().ok().and_then(|l| l.clone());
    Ok(Run {
        rate: c1.saturating_sub(c0) as f64 / elapsed.as_secs_f64(),
        ops_rate: d1.saturating_sub(d0) as f64 / elapsed.as_secs_f64(),
        total,
        cpu_us_per_op: cpu.filter(|_| total > 0).map(|c| c * 1e6 / total as f64),
        errors: errors.load(Ordering::Relaxed),
        last_error,
    })
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
