//! Starting and stopping the service under test: an operator's command (`--start-cmd`,
//! `--stop-cmd` or a signal), or, for the reference runtime and the suite's own tests, code
//! in the same process.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// A boxed future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the suite's registry and broker listen, for the service to be started against.
#[derive(Debug, Clone)]
pub struct MeshAddrs {
    /// The registry's address, `host:port`.
    pub registry: String,
    /// The broker's address, `host:port`.
    pub broker: String,
}

/// Starts instances of the service under test.
pub trait Launcher: Send + Sync {
    /// Starts one instance configured with the mesh's addresses.
    fn start<'a>(&'a self, mesh: &'a MeshAddrs) -> BoxFuture<'a, Result<Box<dyn Running>, String>>;

    /// For reports: how instances are started.
    fn describe(&self) -> String;
}

/// A running instance. Dropping it kills it.
pub trait Running: Send + Sync {
    /// Asks for an orderly stop (signal or stop command) and waits for it to end; an error
    /// says what went wrong (it did not end in time and was killed).
    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>>;

    /// Whether it has ended by itself, and how.
    fn exited(&mut self) -> Option<String>;

    /// The last lines it wrote, for reports.
    fn output(&self) -> String;
}

/// How long an instance may take to end after the stop request before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of output kept per instance.
const OUTPUT_LINES: usize = 40;

/// Starts the service with `sh -c CMD` in its own process group.
///
/// Placeholders in the start command: `{registry}` and `{broker}` (the suite's listen
/// addresses), `{registry_port}` and `{broker_port}`, `{listen}` and `{port}` (a free
/// loopback address the suite picked for the service). In the stop command: `{pid}` (the
/// start command's process id, also its process group id).
#[derive(Debug, Clone)]
pub struct CommandLauncher {
    /// The start command.
    pub start: String,
    /// The stop command; without it, `signal` is sent to the process group.
    pub stop: Option<String>,
    /// The signal number sent to stop (SIGTERM by default).
    pub signal: i32,
}

/// The signal for a name: `TERM`, `SIGTERM`, `INT`, `HUP`, `QUIT`, `USR1`, `USR2`, or a number.
pub fn signal_number(name: &str) -> Result<i32, String> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    Ok(match bare {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        other => other
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| format!("unknown signal {name:?}"))?,
    })
}

fn port_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or("", |(_, p)| p)
}

/// Replaces the placeholders of a start command.
pub fn render(command: &str, mesh: &MeshAddrs, listen: &str) -> String {
    command
        .replace("{registry_port}", port_of(&mesh.registry))
        .replace("{broker_port}", port_of(&mesh.broker))
        .replace("{registry}", &mesh.registry)
        .replace("{broker}", &mesh.broker)
        .replace("{listen}", listen)
        .replace("{port}", port_of(listen))
}

fn free_loopback_addr() -> Result<String, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.to_string())
        .map_err(|e| format!("cannot pick a port for the service: {e}"))
}

type Lines = Arc<Mutex<VecDeque<String>>>;

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, lines: Lines) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if let Ok(mut l) = lines.lock() {
                if l.len() == OUTPUT_LINES {
                    l.pop_front();
                }
                l.push_back(line);
            }
        }
    });
}

impl Launcher for CommandLauncher {
    fn start<'a>(&'a self, mesh: &'a MeshAddrs) -> BoxFuture<'a, Result<Box<dyn Running>, String>> {
        Box::pin(async move {
            let command = render(&self.start, mesh, &free_loopback_addr()?);
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(&command)
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run `{command}`: {e}"))?;
            let lines: Lines = Arc::default();
            if let Some(out) = child.stdout.take() {
                collect(out, lines.clone());
            }
            if let Some(err) = child.stderr.take() {
                collect(err, lines.clone());
            }
            let pid = child.id().map(|p| p as i32);
            Ok(Box::new(Process {
                child,
                pid,
                command,
                stop: self.stop.clone(),
                signal: self.signal,
                lines,
                exit: None,
            }) as Box<dyn Running>)
        })
    }

    fn describe(&self) -> String {
        format!("`{}`", self.start)
    }
}

struct Process {
    child: Child,
    pid: Option<i32>,
    command: String,
    stop: Option<String>,
    signal: i32,
    lines: Lines,
    exit: Option<String>,
}

impl Process {
    fn signal_group(&self, signal: i32) {
        if let Some(pid) = self.pid.filter(|p| *p > 0) {
            // SAFETY: kill(2) with a negative pid signals the process group the start command
            // leads (it was spawned with process_group(0)); no memory is involved.
            unsafe {
                libc::kill(-pid, signal);
            }
        }
    }
}

impl Running for Process {
    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.exited().is_some() {
                return Ok(());
            }
            match &self.stop {
                Some(stop) => {
                    let stop = stop.replace("{pid}", &self.pid.unwrap_or(0).to_string());
                    let status = Command::new("sh")
                        .arg("-c")
                        .arg(&stop)
                        .stdin(Stdio::null())
                        .status()
                        .await
                        .map_err(|e| format!("cannot run `{stop}`: {e}"))?;
                    if !status.success() {
                        return Err(format!("`{stop}` exited with {status}"));
                    }
                }
                None => self.signal_group(self.signal),
            }
            match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
                Ok(Ok(status)) => {
                    self.exit = Some(status.to_string());
                    self.signal_group(libc::SIGKILL);
                    Ok(())
                }
                _ => {
                    self.signal_group(libc::SIGKILL);
                    let _ = self.child.kill().await;
                    Err(format!(
                        "`{}` did not end within {STOP_GRACE:?} of the stop request; killed",
                        self.command
                    ))
                }
            }
        })
    }

    fn exited(&mut self) -> Option<String> {
        if self.exit.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit = Some(status.to_string());
            }
        }
        self.exit.clone()
    }

    fn output(&self) -> String {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.signal_group(libc::SIGKILL);
    }
}

/// What the service role needs: how to start the service, and where the suite's registry
/// and broker listen (port 0: a fresh ephemeral port for each case).
#[derive(Clone)]
pub struct ServiceSetup {
    /// Starts instances.
    pub launcher: Arc<dyn Launcher>,
    /// `--registry-listen`
    pub registry_listen: String,
    /// `--broker-listen`
    pub broker_listen: String,
}

impl ServiceSetup {
    /// Ephemeral loopback ports for the registry and the broker.
    pub fn new(launcher: Arc<dyn Launcher>) -> ServiceSetup {
        ServiceSetup {
            launcher,
            registry_listen: "127.0.0.1:0".into(),
            broker_listen: "127.0.0.1:0".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_signals() {
        let mesh = MeshAddrs {
            registry: "127.0.0.1:5101".into(),
            broker: "127.0.0.1:5100".into(),
        };
        assert_eq!(
            render(
                "svc --registry {registry} --broker {broker} --listen {listen} -p {port} {registry_port}/{broker_port}",
                &mesh,
                "127.0.0.1:40000"
            ),
            "svc --registry 127.0.0.1:5101 --broker 127.0.0.1:5100 --listen 127.0.0.1:40000 -p 40000 5101/5100"
        );
        assert_eq!(signal_number("TERM"), Ok(libc::SIGTERM));
        assert_eq!(signal_number("sigint"), Ok(libc::SIGINT));
        assert_eq!(signal_number("9"), Ok(9));
        assert!(signal_number("BOGUS").is_err());
    }

    fn mesh() -> MeshAddrs {
        MeshAddrs {
            registry: "127.0.0.1:5101".into(),
            broker: "127.0.0.1:5100".into(),
        }
    }

    async fn output_contains(instance: &dyn Running, text: &str) -> bool {
        for _ in 0..100 {
            if instance.output().contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_command_started_with_its_addresses_and_stopped_by_signal_or_command() {
        let by_signal = CommandLauncher {
            start: "echo registry={registry} broker={broker}; trap 'echo terminated; exit 0' \
                    TERM; while :; do sleep 0.05; done"
                .into(),
            stop: None,
            signal: libc::SIGTERM,
        };
        let mut instance = by_signal.start(&mesh()).await.unwrap();
        assert!(output_contains(&*instance, "registry=127.0.0.1:5101 broker=127.0.0.1:5100").await);
        assert_eq!(instance.exited(), None);
        assert_eq!(instance.stop().await, Ok(()));
        assert!(instance.exited().is_some());
        assert!(output_contains(&*instance, "terminated").await);

        let by_command = CommandLauncher {
            start: "trap 'exit 3' USR1; while :; do sleep 0.05; done".into(),
            stop: Some("kill -USR1 {pid}".into()),
            signal: libc::SIGTERM,
        };
        let mut instance = by_command.start(&mesh()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(instance.stop().await, Ok(()));
        assert!(
            instance.exited().is_some_and(|how| how.contains('3')),
            "{:?}",
            instance.exited()
        );
    }
}
