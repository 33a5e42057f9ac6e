//! The whole flow on loopback: a mesh, services that register, subscribe, publish, receive.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use uhome_protocol::core_events::{REGISTER, SUBSCRIBE};
use uhome_runtime::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_right_after_register_never_loses_the_race() {
    let mesh = Mesh::start().await;
    let (handler, _rx) = recorder();
    let target = mesh
        .service("target")
        .handle("x.>", handler)
        .start()
        .await
        .unwrap();
    for i in 0..20 {
        let id = format!("racer-{i}");
        let client = Client::new(id.clone());
        let reply = client
            .request(
                &mesh.registry_addr(),
                REGISTER,
                Some(&json!({"nodeId": id, "address": target.local_addr().to_string()})),
            )
            .await
            .unwrap();
        assert!(reply.is_success(), "{reply:?}");
        let reply = client
            .request(
                &mesh.broker_addr(),
                SUBSCRIBE,
                Some(&json!({"subscribe": "x.y"})),
            )
            .await
            .unwrap();
        assert!(
            reply.is_success(),
            "subscribe {i} right after register: {:?}",
            reply.reason()
        );
        assert_eq!(reply.code().as_deref(), Some("subscribed"));
    }
    target.shutdown().await;
    mesh.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_exactly_the_subscribers_once() {
    let mesh = Mesh::start().await;
    let (lamp_handler, mut lamp) = recorder();
    let (all_handler, mut all) = recorder();
    let lamp_svc = mesh
        .service("lamp")
        .handle("home.lamp.*", lamp_handler)
        .subscribe("home.lamp.*")
        .start()
        .await
        .unwrap();
    let all_svc = mesh
        .service("logger")
        .handle(">", all_handler)
        .subscribe("home.>")
        .subscribe("home.lamp.on")
        .start()
        .await
        .unwrap();
    let publisher = mesh.service("switch").start().await.unwrap();

    let report = publisher
        .publish("home.lamp.on", Some(&json!({"level": 80})))
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
    assert!(report.failed.is_empty());
    let got = drain(&mut lamp, Duration::from_millis(300)).await;
    assert_eq!(got.len(), 1, "lamp once");
    assert_eq!(got[0].event_type, "home.lamp.on");
    assert_eq!(got[0].source, "switch", "the publisher's source is kept");
    assert_eq!(got[0].data_value(), Some(json!({"level": 80})));
    let logged = drain(&mut all, Duration::from_millis(100)).await;
    assert_eq!(logged.len(), 1, "two matching patterns, one delivery");
    assert_eq!(logged[0].id, got[0].id, "the publisher's id is kept");

    let report = publisher.publish("home.door.open", None).await.unwrap();
    assert_eq!(report.delivered, 1);
    assert!(
        drain(&mut lamp, Duration::from_millis(200))
            .await
            .is_empty(),
        "lamp does not match home.door.open"
    );
    let logged = drain(&mut all, Duration::from_millis(100)).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].data, None);

    let report = publisher.publish("office.lamp.on", None).await.unwrap();
    assert_eq!((report.delivered, report.failed.len()), (0, 0));

    assert!(lamp_svc.unsubscribe("home.lamp.*").await.unwrap());
    assert!(!lamp_svc.unsubscribe("home.lamp.*").await.unwrap());
    let report = publisher.publish("home.lamp.off", None).await.unwrap();
    assert_eq!(report.delivered, 1, "only the logger after unsubscribe");
    assert!(drain(&mut lamp, Duration::from_millis(200))
        .await
        .is_empty());

    lamp_svc.shutdown().await;
    assert!(
        !mesh.registry.nodes().iter().any(|n| n.node_id == "lamp"),
        "unregistered on shutdown"
    );
    assert!(
        eventually(Duration::from_secs(2), || !mesh
            .broker
            .nodes()
            .iter()
            .any(|n| n.node_id == "lamp"))
        .await,
        "the broker's list follows"
    );
    assert_eq!(mesh.broker.subscriptions("lamp"), Vec::<String>::new());
    assert_eq!(mesh.broker.subscriptions("logger").len(), 2);

    all_svc.shutdown().await;
    publisher.shutdown().await;
    mesh.shutdown().await;
}
