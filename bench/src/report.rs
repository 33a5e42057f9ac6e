//! The table: the median of the rounds per series, µHome beside its peer, the ratio of the
//! medians, and the goals marked met or not met.

use std::time::Duration;

use serde_json::{json, Value};

use crate::measure::median;
use crate::Results;

pub struct Setup {
    pub rounds: usize,
    pub duration: Duration,
    pub concurrency: usize,
    pub publishers: usize,
    pub subscribers: Vec<usize>,
    pub payload: usize,
    pub uhome: String,
    pub nats: String,
    pub mosquitto: String,
    pub cores: usize,
    pub elapsed: Duration,
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    /// Per second; higher is better.
    Rate,
    /// µs of broker CPU; lower is better.
    Micros,
    /// KiB of memory; lower is better.
    KiB,
    /// Deliveries per published message and subscriber.
    Share,
}

struct Line {
    section: &'static str,
    what: String,
    uhome: Option<f64>,
    peer_name: String,
    peer: Option<f64>,
    unit: Unit,
}

impl Line {
    fn ratio(&self) -> Option<f64> {
        match (self.uhome, self.peer) {
            (Some(u), Some(p)) if p > 0.0 => Some(u / p),
            _ => None,
        }
    }
}

struct Goal {
    what: &'static str,
    /// None: not measured (a peer skipped).
    met: Option<bool>,
    figures: String,
}

pub struct Table {
    lines: Vec<Line>,
    goals: Vec<Goal>,
}

fn rate(results: &Results, key: &str) -> Option<f64> {
    let runs = results.runs.get(key)?;
    median(&runs.iter().map(|r| r.rate).collect::<Vec<_>>())
}

fn cpu(results: &Results, key: &str) -> Option<f64> {
    let runs = results.runs.get(key)?;
    median(
        &runs
            .iter()
            .filter_map(|r| r.cpu_us_per_op)
            .collect::<Vec<_>>(),
    )
}

/// Deliveries over publishes times subscribers: below 1, the broker dropped messages
/// (or a report came back short).
fn share(results: &Results, key: &str, subscribers: usize) -> Option<f64> {
    let runs = results.runs.get(key)?;
    median(
        &runs
            .iter()
            .filter(|r| r.ops_rate > 0.0)
            .map(|r| r.rate / (r.ops_rate * subscribers as f64))
            .collect::<Vec<_>>(),
    )
}

fn memory(results: &Results, key: &str) -> Option<f64> {
    let values = results.memory.get(key)?;
    median(&values.iter().map(|&v| v as f64).collect::<Vec<_>>())
}

fn format_value(value: Option<f64>, unit: Unit) -> String {
    let Some(v) = value else {
        return "n/a".into();
    };
    match unit {
        Unit::Rate if v >= 1e6 => format!("{:.2}M/s", v / 1e6),
        Unit::Rate if v >= 1e3 => format!("{:.1}k/s", v / 1e3),
        Unit::Rate => format!("{v:.0}/s"),
        Unit::Micros => format!("{v:.1} µs"),
        Unit::KiB => format!("{:.1} MiB", v / 1024.0),
        Unit::Share => format!("{:.0} %", v * 100.0),
    }
}

fn subscribers(n: usize) -> String {
    if n == 1 {
        "1 subscriber".into()
    } else {
        format!("{n} subscribers")
    }
}

fn format_ratio(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{r:.2}"))
        .unwrap_or_else(|| "n/a".into())
}

impl Table {
    pub fn build(setup: &Setup, results: &Results) -> Table {
        let mut lines = Vec::new();
        let c = setup.concurrency;
        let p = setup.publishers;
        for (name, label) in [
            ("seq", "sequential".to_string()),
            ("concurrent", format!("{c} concurrent requesters")),
        ] {
            lines.push(Line {
                section: "1-2",
                what: format!("publish → 1 subscriber with delivery report, {label}"),
                uhome: rate(results, &format!("uhome.publish.{name}")),
                peer_name: "NATS request/reply".into(),
                peer: rate(results, &format!("nats.request.{name}")),
                unit: Unit::Rate,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "3",
                what: format!(
                    "fan-out with delivery report, {p} publishers, {}",
                    subscribers(s)
                ),
                uhome: rate(results, &format!("uhome.fan.report.{s}")),
                peer_name: "mosquitto QoS 1".into(),
                peer: rate(results, &format!("mosquitto.fan.qos1.{s}")),
                unit: Unit::Rate,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "4",
                what: format!(
                    "fire-and-forget fan-out, {p} publishers, {}",
                    subscribers(s)
                ),
                uhome: rate(results, &format!("uhome.fan.nowait.{s}")),
                peer_name: "mosquitto QoS 0".into(),
                peer: rate(results, &format!("mosquitto.fan.qos0.{s}")),
                unit: Unit::Rate,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "4",
                what: format!(
                    "fire-and-forget fan-out, {p} publishers, {}",
                    subscribers(s)
                ),
                uhome: rate(results, &format!("uhome.fan.nowait.{s}")),
                peer_name: "NATS core publish".into(),
                peer: rate(results, &format!("nats.fan.{s}")),
                unit: Unit::Rate,
            });
        }
        for (series, peer, label, peer_name) in [
            (
                "report",
                "mosquitto.fan.qos1",
                "with report",
                "mosquitto QoS 1",
            ),
            (
                "nowait",
                "mosquitto.fan.qos0",
                "fire-and-forget",
                "mosquitto QoS 0",
            ),
            ("nowait", "nats.fan", "fire-and-forget", "NATS core publish"),
        ] {
            for &s in &setup.subscribers {
                lines.push(Line {
                    section: "3-4",
                    what: format!("share of publishes delivered, {label}, {}", subscribers(s)),
                    uhome: share(results, &format!("uhome.fan.{series}.{s}"), s),
                    peer_name: peer_name.into(),
                    peer: share(results, &format!("{peer}.{s}"), s),
                    unit: Unit::Share,
                });
            }
        }
        for (name, label) in [
            ("seq", "sequential".to_string()),
            ("concurrent", format!("{c} concurrent")),
        ] {
            lines.push(Line {
                section: "5",
                what: format!("µHome direct request/reply (no broker), {label}"),
                uhome: rate(results, &format!("uhome.direct.{name}")),
                peer_name: "NATS request/reply (reference)".into(),
                peer: rate(results, &format!("nats.request.{name}")),
                unit: Unit::Rate,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "6",
                what: format!(
                    "broker CPU per delivery, fan-out with report, {}",
                    subscribers(s)
                ),
                uhome: cpu(results, &format!("uhome.fan.report.{s}")),
                peer_name: "mosquitto QoS 1".into(),
                peer: cpu(results, &format!("mosquitto.fan.qos1.{s}")),
                unit: Unit::Micros,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "6",
                what: format!(
                    "broker CPU per delivery, fire-and-forget, {}",
                    subscribers(s)
                ),
                uhome: cpu(results, &format!("uhome.fan.nowait.{s}")),
                peer_name: "mosquitto QoS 0".into(),
                peer: cpu(results, &format!("mosquitto.fan.qos0.{s}")),
                unit: Unit::Micros,
            });
        }
        for &s in &setup.subscribers {
            lines.push(Line {
                section: "6",
                what: format!(
                    "broker CPU per delivery, fire-and-forget, {}",
                    subscribers(s)
                ),
                uhome: cpu(results, &format!("uhome.fan.nowait.{s}")),
                peer_name: "NATS core publish".into(),
                peer: cpu(results, &format!("nats.fan.{s}")),
                unit: Unit::Micros,
            });
        }
        for (name, label) in [
            ("seq", "sequential".to_string()),
            ("concurrent", format!("{c} concurrent")),
        ] {
            lines.push(Line {
                section: "6",
                what: format!("broker CPU per publish round trip, {label}"),
                uhome: cpu(results, &format!("uhome.publish.{name}")),
                peer_name: "NATS request/reply".into(),
                peer: cpu(results, &format!("nats.request.{name}")),
                unit: Unit::Micros,
            });
        }
        for (moment, label) in [
            ("idle", "idle"),
            ("after", "after the fan-out runs"),
            ("peak", "peak (VmHWM)"),
        ] {
            lines.push(Line {
                section: "7",
                what: format!("memory (VmRSS) of `uhome mesh`, {label}"),
                uhome: memory(results, &format!("uhome.{moment}")),
                peer_name: "mosquitto".into(),
                peer: memory(results, &format!("mosquitto.{moment}")),
                unit: Unit::KiB,
            });
        }
        let goals = goals(&lines);
        Table { lines, goals }
    }

    pub fn text(&self, setup: &Setup) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "µHome side by side: {} round(s) of {:?} runs, interleaved; median of rounds; \
             {}-byte payloads, loopback, {} cores; took {:.0} s\n",
            setup.rounds,
            setup.duration,
            setup.payload,
            setup.cores,
            setup.elapsed.as_secs_f64()
        ));
        out.push_str(&format!(
            "nats-server: {}\nmosquitto: {}\n\n",
            setup.nats, setup.mosquitto
        ));
        out.push_str(&format!(
            "{:<3} {:<66} {:>11}  {:<30} {:>11} {:>8}\n",
            "#", "measurement", "µHome", "peer", "", "µH/peer"
        ));
        for line in &self.lines {
            out.push_str(&format!(
                "{:<3} {:<66} {:>11}  {:<30} {:>11} {:>8}\n",
                line.section,
                line.what,
                format_value(line.uhome, line.unit),
                line.peer_name,
                format_value(line.peer, line.unit),
                format_ratio(line.ratio()),
            ));
        }
        out.push_str("\ngoals (same-run ratios):\n");
        for goal in &self.goals {
            let mark = match goal.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "not measured",
            };
            out.push_str(&format!(
                "  {:<13} {} — {}\n",
                mark, goal.what, goal.figures
            ));
        }
        out
    }

    pub fn json(&self, setup: &Setup, results: &Results) -> Value {
        let unit = |u: Unit| match u {
            Unit::Rate => "per_second",
            Unit::Micros => "broker_cpu_us",
            Unit::KiB => "kib",
            Unit::Share => "delivered_share",
        };
        let lines: Vec<Value> = self
            .lines
            .iter()
            .map(|l| {
                json!({
                    "scenario": l.section, "measurement": l.what, "unit": unit(l.unit),
                    "uhome": l.uhome, "peer": l.peer_name, "peer_value": l.peer,
                    "ratio": l.ratio(),
                })
            })
            .collect();
        let runs: serde_json::Map<String, Value> = results
            .runs
            .iter()
            .map(|(k, runs)| (k.clone(), runs.iter().map(|r| r.to_json()).collect()))
            .collect();
        let goals: Vec<Value> = self
            .goals
            .iter()
            .map(|g| json!({ "goal": g.what, "met": g.met, "figures": g.figures }))
            .collect();
        json!({
            "setup": {
                "rounds": setup.rounds, "duration_s": setup.duration.as_secs_f64(),
                "concurrency": setup.concurrency, "publishers": setup.publishers,
                "subscribers": setup.subscribers, "payload_bytes": setup.payload,
                "uhome": setup.uhome, "nats_server": setup.nats, "mosquitto": setup.mosquitto,
                "cores": setup.cores, "elapsed_s": setup.elapsed.as_secs_f64(),
            },
            "medians": lines,
            "goals": goals,
            "runs": runs,
            "memory_kib": results.memory,
        })
    }
}

/// Every line of `section` against `peer`: met when each ratio passes `ok`.
fn judge(
    lines: &[Line],
    section: &str,
    peer: &str,
    unit: Unit,
    what: &'static str,
    ok: impl Fn(f64) -> bool,
) -> Goal {
    let chosen: Vec<&Line> = lines
        .iter()
        .filter(|l| l.section == section && l.peer_name == peer && l.unit == unit)
        .collect();
    let ratios: Vec<Option<f64>> = chosen.iter().map(|l| l.ratio()).collect();
    let met = if ratios.is_empty() || ratios.iter().any(Option::is_none) {
        None
    } else {
        Some(ratios.iter().flatten().all(|&r| ok(r)))
    };
    let figures = ratios
        .iter()
        .map(|r| r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}×")))
        .collect::<Vec<_>>()
        .join(" / ");
    Goal { what, met, figures }
}

fn goals(lines: &[Line]) -> Vec<Goal> {
    let mut goals = vec![
        judge(
            lines,
            "3",
            "mosquitto QoS 1",
            Unit::Rate,
            "fan-out with delivery reports ≥ 1.0× mosquitto QoS 1 at every subscriber count",
            |r| r >= 1.0,
        ),
        judge(
            lines,
            "4",
            "mosquitto QoS 0",
            Unit::Rate,
            "fire-and-forget fan-out ≥ 1.0× mosquitto QoS 0 at every subscriber count",
            |r| r >= 1.0,
        ),
        judge(
            lines,
            "1-2",
            "NATS request/reply",
            Unit::Rate,
            "publish round trip ≥ 1.0× NATS request/reply, sequential and concurrent",
            |r| r >= 1.0,
        ),
        judge(
            lines,
            "7",
            "mosquitto",
            Unit::KiB,
            "memory of `uhome mesh` ≤ mosquitto's (idle, after fan-out, peak)",
            |r| r <= 1.0,
        ),
    ];
    let cpu: Vec<f64> = lines
        .iter()
        .filter(|l| l.section == "6" && l.what.contains("per delivery"))
        .filter_map(|l| l.uhome)
        .collect();
    let worst = cpu
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    goals.push(Goal {
        what: "broker CPU per delivery ≤ 10 µs (worst µHome fan-out series)",
        met: worst.map(|w| w <= 10.0),
        figures: format!("worst {}", format_value(worst, Unit::Micros)),
    });
    goals
}
