//! The brokers as child processes: finding them, starting them on ephemeral loopback
//! ports, and reading their CPU time and memory from `/proc`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A broker process, killed when dropped.
pub struct ServerProc {
    child: Child,
    log: PathBuf,
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    Ok(port)
}

/// `program` on PATH, or in the sbin directories Debian installs servers to.
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The first line `program args` prints (stdout or stderr), for the report.
pub fn version_line(program: &Path, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(out) => {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

impl ServerProc {
    /// Starts `cmd` with its output in `log` and waits until every port in `ports` accepts.
    pub async fn spawn(
        name: &str,
        mut cmd: Command,
        log: PathBuf,
        ports: &[u16],
    ) -> Result<ServerProc, String> {
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let mut server = ServerProc { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in ports {
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", *port))
                    .await
                    .is_ok()
                {
                    break;
                }
                if let Ok(Some(status)) = server.child.try_wait() {
                    return Err(format!(
                        "{name} exited ({status}) before listening: {}",
                        server.log_tail()
                    ));
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{name} did not listen on port {port} within 10 s: {}",
                        server.log_tail()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(5)..)
            .unwrap_or(&[])
            .join(" | ")
    }

    /// User plus system CPU time of the process so far (`/proc/PID/stat` fields 14 and 15).
    pub fn cpu_seconds(&self) -> Result<f64, String> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // The command name, in parentheses, may hold spaces: fields count from its end.
        let rest = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 1..))
            .ok_or_else(|| format!("{path}: no command name"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state).
        let tick = |n: usize| -> Result<f64, String> {
            fields
                .get(n - 3)
                .and_then(|f| f.parse::<u64>().ok())
                .map(|t| t as f64)
                .ok_or_else(|| format!("{path}: field {n} missing"))
        };
        Ok((tick(14)? + tick(15)?) / clock_ticks_per_second())
    }

    /// A `/proc/PID/status` line in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, key: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (at most 5 s) until the servers together use at most one clock tick of CPU in
/// 200 ms, so that one run's backlog does not run into the next.
pub async fn quiesce(servers: &[&ServerProc]) {
    let total = || -> f64 { servers.iter().filter_map(|s| s.cpu_seconds().ok()).sum() };
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut before = total();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = total();
        if now - before <= 1.0 / clock_ticks_per_second() + 1e-9 {
            return;
        }
        before = now;
    }
}
