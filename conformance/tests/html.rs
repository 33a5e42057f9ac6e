//! The HTML report: a hostile node's text is escaped, never markup; a failing case shows its
//! requirement, Expected and Actual, and the frames in hex and decoded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // a test: panicking is how it fails

use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uhome_protocol::{Decoded, Frame};

const BIN: &str = env!("CARGO_BIN_EXE_uhome-conformance");

/// Payload of the hostile node's reply: markup in every string it controls.
const HOSTILE: &str = r#"{"id":"<b>x</b>","timestamp":"2026-12-02T00:00:00Z","source":"\"><img src=x onerror=alert(1)>","type":"µHome.error","error":{"message":"<script>alert('pwned')</script>","code":"bad</td></tr></table><h1>forged"}}"#;

/// Answers every frame with [`HOSTILE`].
async fn hostile_node() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let reply = uhome_conformance::wire::frame(2, 2, HOSTILE.as_bytes());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Decoded::Complete(_, used) = Frame::decode(&buf) {
                        buf.drain(..used);
                        if stream.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_reply_is_escaped_and_the_failure_fully_shown() {
    let addr = hostile_node().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let out = tokio::task::spawn_blocking({
        let path = path.clone();
        move || {
            Command::new(BIN)
                .args(["node", "--target", &addr, "--only", "UH-CORE-2/healthcheck"])
                .args(["--timeout", "2s", "--html", path.to_str().unwrap()])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let html = std::fs::read_to_string(&path).unwrap();
    let lower = html.to_lowercase();
    for markup in ["<script", "<img", "<b>", "<h1>forged", "onerror=alert(1)>"] {
        assert!(!lower.contains(markup), "{markup} reached the page");
    }
    assert!(
        html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"),
        "the message is shown, escaped"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"),
        "one whole page"
    );
    assert!(
        !lower.contains("<link") && !lower.contains("src=\"") && !lower.contains("href=\"http"),
        "no external resources"
    );
    // The failing case with its requirement, Expected and Actual, and the frames.
    assert!(html.contains("<span class=\"v fail\">FAIL</span> UH-CORE-2/healthcheck"));
    assert!(html.contains("[UH-CORE-2] Every node"));
    assert!(html.contains("<th>Expected</th>") && html.contains("<th>Actual</th>"));
    assert!(
        html.contains("&gt;&gt; sent")
            && html.contains("&quot;type&quot;: &quot;µHome.core.healthcheck&quot;"),
        "the request, decoded"
    );
    let reply_hex = hex::encode(uhome_conformance::wire::frame(2, 2, HOSTILE.as_bytes()));
    assert!(html.contains(&reply_hex), "the reply's hex");
    assert!(
        html.contains("&quot;timestamp&quot;: &quot;2026-12-02T00:00:00Z&quot;"),
        "decoded"
    );
}
