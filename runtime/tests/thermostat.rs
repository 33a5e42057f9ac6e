//! `examples/thermostat.rs` against an in-process mesh.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

#[path = "../examples/thermostat.rs"]
#[allow(dead_code)]
mod thermostat;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use uhome_runtime::service;
use uhome_runtime::{Client, OwnedEvent};

/// The next switch; it is published after the reading's reply, so it is waited for.
async fn next(rx: &mut UnboundedReceiver<OwnedEvent>) -> OwnedEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a switch within 5 s")
        .expect("the boiler runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thermostat_switches_the_heating_and_answers_get() {
    let mesh = Mesh::start().await;
    let (handler, mut switched) = recorder();
    let boiler = mesh
        .service("home/boiler")
        .handle("home.heating.>", handler)
        .subscribe("home.heating.>")
        .start()
        .await
        .unwrap();
    let thermostat = thermostat::start(thermostat::Settings {
        id: "home/thermostat".into(),
        listen: "127.0.0.1:0".into(),
        registry: mesh.registry_addr(),
        broker: mesh.broker_addr(),
        setpoint: 20.0,
        hysteresis: 0.5,
    })
    .await
    .unwrap();
    let sensor = Client::new("home/sensor");
    let broker = mesh.broker_addr();
    let read = |room: &'static str, data: serde_json::Value| {
        let (sensor, broker) = (sensor.clone(), broker.clone());
        async move {
            let report = service::publish(
                &sensor,
                &broker,
                &format!("home.temperature.{room}"),
                Some(&data),
            )
            .await
            .unwrap();
            assert_eq!(report.delivered, 1, "the thermostat gets {room}");
        }
    };

    read("living", json!(18.0)).await;
    let on = next(&mut switched).await;
    assert_eq!(on.event_type, "home.heating.on");
    assert_eq!(on.source, "home/thermostat");
    assert_eq!(on.data_value(), Some(json!({"celsius": 18.0})));

    // Inside the band, and the same state again: nothing is published.
    read("kitchen", json!({"celsius": 21.0})).await;
    read("living", json!(19.0)).await;
    assert!(drain(&mut switched, Duration::from_millis(300))
        .await
        .is_empty());

    read("living", json!(21.4)).await;
    assert_eq!(next(&mut switched).await.event_type, "home.heating.off");

    let state = sensor
        .request(
            &thermostat.local_addr().to_string(),
            "home.thermostat.get",
            None,
        )
        .await
        .unwrap();
    assert_eq!(state.code().as_deref(), Some("thermostat"));
    let data = state.data_value().unwrap();
    assert_eq!(data["heating"], false);
    assert_eq!(data["temperature"], 21.2);
    assert_eq!(data["readings"], json!({"kitchen": 21.0, "living": 21.4}));

    let bad = sensor
        .request(
            &thermostat.local_addr().to_string(),
            "home.temperature.attic",
            Some(&json!("warm")),
        )
        .await
        .unwrap();
    assert_eq!(bad.code().as_deref(), Some("invalid_reading"));

    thermostat.shutdown().await;
    boiler.shutdown().await;
    mesh.shutdown().await;
}
