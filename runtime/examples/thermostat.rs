//! A thermostat on a µHome mesh, written with the library.
//!
//! It follows the temperature readings published as `home.temperature.<room>` (data a
//! number of degrees Celsius, or `{"celsius": n}`), switches the heating by publishing
//! `home.heating.on` or `home.heating.off` when the mean of the rooms' latest readings leaves
//! the band `setpoint ± hysteresis`, and answers `home.thermostat.get` with its state.
//!
//! ```text
//! uhome mesh --memory &
//! cargo run --example thermostat -- --setpoint 20.5
//! uhome sub 'home.heating.>' &
//! uhome publish home.temperature.living 18.4
//! uhome send 127.0.0.1:5110 home.thermostat.get
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;
use uhome_runtime::service::{self, Service, ServiceError};
use uhome_runtime::{Client, OwnedEvent, Reply};

/// Settings of the thermostat.
#[derive(Parser, Debug, Clone)]
#[command(about = "A µHome thermostat: follows home.temperature.>, publishes home.heating.on|off")]
pub struct Settings {
    /// Node id.
    #[arg(long, default_value = "home/thermostat")]
    pub id: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5110")]
    pub listen: String,
    /// Registry to register with.
    #[arg(long, default_value = "127.0.0.1:5101")]
    pub registry: String,
    /// Broker to subscribe and publish through.
    #[arg(long, default_value = "127.0.0.1:5100")]
    pub broker: String,
    /// Wanted temperature, °C.
    #[arg(long, default_value_t = 20.0)]
    pub setpoint: f64,
    /// Heating goes on below setpoint − hysteresis and off above setpoint + hysteresis.
    #[arg(long, default_value_t = 0.5)]
    pub hysteresis: f64,
}

/// The rooms' latest readings and the heating as last switched.
#[derive(Default)]
struct State {
    readings: BTreeMap<String, f64>,
    heating: Option<bool>,
}

impl State {
    fn mean(&self) -> Option<f64> {
        (!self.readings.is_empty())
            .then(|| self.readings.values().sum::<f64>() / self.readings.len() as f64)
    }

    /// Records a reading; returns the heating's new state when it must switch.
    fn reading(&mut self, room: String, celsius: f64, settings: &Settings) -> Option<bool> {
        self.readings.insert(room, celsius);
        let mean = self.mean()?;
        let wanted = if mean < settings.setpoint - settings.hysteresis {
            true
        } else if mean > settings.setpoint + settings.hysteresis {
            false
        } else {
            return None;
        };
        (self.heating != Some(wanted)).then(|| {
            self.heating = Some(wanted);
            wanted
        })
    }
}

fn celsius(data: &Value) -> Option<f64> {
    data.as_f64()
        .or_else(|| data.get("celsius").and_then(Value::as_f64))
}

/// Starts the thermostat; it runs until [`Service::shutdown`].
pub async fn start(settings: Settings) -> Result<Service, ServiceError> {
    let state = Arc::new(Mutex::new(State::default()));
    // Switches are published in order by one task, off the delivery's path.
    let (switch_tx, mut switches) = mpsc::unbounded_channel::<(bool, f64)>();
    let publisher = Client::new(settings.id.clone());
    let broker = settings.broker.clone();
    tokio::spawn(async move {
        while let Some((on, mean)) = switches.recv().await {
            let event_type = if on {
                "home.heating.on"
            } else {
                "home.heating.off"
            };
            let data = json!({ "celsius": mean });
            match service::publish(&publisher, &broker, event_type, Some(&data)).await {
                Ok(report) => tracing::info!(event_type, delivered = report.delivered, "switched"),
                Err(e) => tracing::warn!(event_type, "cannot publish: {e}"),
            }
        }
    });

    let readings = {
        let state = state.clone();
        let settings = settings.clone();
        move |request: OwnedEvent| {
            let reply = match request.data_value().as_ref().and_then(celsius) {
                Some(value) => {
                    let room = request
                        .event_type
                        .strip_prefix("home.temperature.")
                        .unwrap_or(&request.event_type)
                        .to_string();
                    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(on) = state.reading(room, value, &settings) {
                        let _ = switch_tx.send((on, state.mean().unwrap_or(value)));
                    }
                    Reply::response("reading", "Reading taken", Map::new())
                }
                None => Reply::error(
                    2,
                    "invalid_reading",
                    "Not a temperature",
                    Some("data is a number of °C or {\"celsius\": number}"),
                ),
            };
            async move { reply }
        }
    };
    let get = {
        let state = state.clone();
        let settings = settings.clone();
        move |_request: OwnedEvent| {
            let state = state.lock().unwrap_or_else(PoisonError::into_inner);
            let mut extra = Map::new();
            extra.insert("setpoint".into(), json!(settings.setpoint));
            extra.insert("hysteresis".into(), json!(settings.hysteresis));
            extra.insert("temperature".into(), json!(state.mean()));
            extra.insert("heating".into(), json!(state.heating));
            extra.insert("readings".into(), json!(state.readings));
            let reply = Reply::response("thermostat", "Thermostat state", extra);
            async move { reply }
        }
    };
    Service::builder(settings.id.clone())
        .listen(settings.listen.clone())
        .registry(settings.registry.clone())
        .broker(settings.broker.clone())
        .handle("home.thermostat.get", get)
        .handle("home.temperature.>", readings)
        .subscribe("home.temperature.>")
        .start()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let settings = Settings::parse();
    eprintln!(
        "thermostat {} on {}: setpoint {} °C ± {}; waiting for the mesh",
        settings.id, settings.listen, settings.setpoint, settings.hysteresis
    );
    let thermostat = start(settings).await?;
    eprintln!(
        "thermostat on {}: registered, subscribed to home.temperature.>",
        thermostat.local_addr()
    );
    tokio::signal::ctrl_c().await?;
    thermostat.shutdown().await;
    Ok(())
}
