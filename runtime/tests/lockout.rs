//! No lockout at the connection cap ([UH-EXCHANGE-17]): one client holding more idle
//! connections than a node serves does not keep another client out, and connections with
//! work in progress are never the ones closed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uhome_protocol::core_events::HEALTHCHECK;
use uhome_runtime::config::{ServerConfig, MAX_CONNECTIONS};
use uhome_runtime::service::Service;
use uhome_runtime::Client;

const FLOOD: usize = 2000;

fn raise_fd_limit() {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    let want = 2 * FLOOD as u64 + 1024;
    if soft < want {
        assert!(
            hard >= want,
            "this test needs {want} file descriptors; the hard limit is {hard}"
        );
        rlimit::Resource::NOFILE.set(want, hard).unwrap();
    }
}

/// Whether the node closed `stream` (FIN, or a reset).
async fn closed_by_node(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_do_not_lock_out_a_healthcheck() {
    raise_fd_limit();
    let config = ServerConfig::default();
    assert_eq!(config.max_connections, MAX_CONNECTIONS);
    assert!(FLOOD > config.max_connections);
    let service = Service::builder("lockout/target")
        .listen(common::LOOPBACK)
        .server_config(config)
        .start()
        .await
        .unwrap();
    let addr = service.local_addr().to_string();

    // A connection with half a frame in flight: work in progress, never evicted.
    let client = Client::new("lockout/busy");
    let frame = client
        .encode(&client.event(HEALTHCHECK, None))
        .unwrap()
        .to_vec();
    let mut busy = TcpStream::connect(&addr).await.unwrap();
    busy.write_all(&frame[..3]).await.unwrap();

    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(TcpStream::connect(&addr).await.unwrap());
    }

    // Another client, with the client deadlines (3 s each), is answered.
    let reply = Client::new("lockout/probe")
        .request(&addr, HEALTHCHECK, None)
        .await
        .expect("a healthcheck from a new client is answered within the client deadline");
    assert!(reply.is_success(), "{}", reply.describe());

    // The node closed the oldest idle connections for the newer ones, and serves at most
    // its cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut closed = Vec::new();
    for (i, stream) in flood.iter_mut().enumerate() {
        if closed_by_node(stream).await {
            closed.push(i);
        }
    }
    let open = FLOOD - closed.len();
    assert!(
        open < MAX_CONNECTIONS,
        "{open} flood connections still open; the cap is {MAX_CONNECTIONS}"
    );
    assert!(
        closed.first() == Some(&0) && !closed.contains(&(FLOOD - 1)),
        "the longest-idle go first: closed {:?}…",
        &closed[..closed.len().min(10)]
    );

    // The connection with a frame in progress was kept and is answered.
    busy.write_all(&frame[3..]).await.unwrap();
    let mut header = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(3), busy.read_exact(&mut header))
        .await
        .expect("the busy connection is answered")
        .expect("the busy connection was not closed");
    assert_eq!(header[4], uhome_protocol::status::OK);

    // A connection still open after the flood keeps working: it was not harmed.
    let survivor = flood.last_mut().unwrap();
    survivor.write_all(&frame).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), survivor.read_exact(&mut header))
        .await
        .expect("a surviving connection is answered")
        .expect("a surviving connection was not closed");
    assert_eq!(header[4], uhome_protocol::status::OK);
    drop(flood);
    service.shutdown().await;
}
