//! The registry's state on disk: an append-only log, one record per line, each with a
//! CRC-32, fsync'ed on every append and compacted into a snapshot.
//!
//! The state is a few hundred short records written rarely; a log with per-line checksums
//! recovers every intact record after a crash or a damaged line, says exactly what it
//! dropped, and needs no dependency beyond `crc32fast`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::nodes::NodeEntry;

/// File name of the log inside the data directory.
pub const LOG_FILE: &str = "registry.log";

/// One change of the registry's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Record {
    /// A node registered, or re-registered at a new address.
    Register {
        /// Node id.
        #[serde(rename = "nodeId")]
        node_id: String,
        /// Its address.
        address: String,
        /// Whether it takes deliveries on kept connections ([UH-REGISTRY-11]); absent in
        /// records written before it existed.
        #[serde(rename = "keepAlive", default, skip_serializing_if = "is_false")]
        keep_alive: bool,
    },
    /// A node unregistered or was evicted.
    Unregister {
        /// Node id.
        #[serde(rename = "nodeId")]
        node_id: String,
    },
}

/// What [`Store::open`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The nodes, in registration order.
    pub nodes: Vec<NodeEntry>,
    /// Damaged or truncated records that were dropped, one line each.
    pub problems: Vec<String>,
    /// Where the damaged log was kept, when there were problems.
    pub backup: Option<PathBuf>,
}

/// The open log.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    file: File,
    appended: usize,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn encode(record: &Record) -> Vec<u8> {
    let json = serde_json::to_string(record).unwrap_or_default();
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes())).into_bytes()
}

fn decode(line: &[u8]) -> Result<Record, &'static str> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8")?;
    let (crc, json) = line.split_once(' ').ok_or("no checksum")?;
    let crc = u32::from_str_radix(crc, 16).map_err(|_| "bad checksum field")?;
    if crc != crc32fast::hash(json.as_bytes()) {
        return Err("checksum mismatch");
    }
    serde_json::from_str(json).map_err(|_| "unreadable record")
}

fn apply(nodes: &mut Vec<NodeEntry>, record: Record) {
    match record {
        Record::Register {
            node_id,
            address,
            keep_alive,
        } => match nodes.iter_mut().find(|n| n.node_id == node_id) {
            Some(entry) => {
                entry.address = address;
                entry.keep_alive = keep_alive;
            }
            None => nodes.push(NodeEntry {
                node_id,
                address,
                keep_alive,
                key: None,
            }),
        },
        Record::Unregister { node_id } => nodes.retain(|n| n.node_id != node_id),
    }
}

/// Replays a log's bytes: the nodes, and what was dropped.
pub fn replay(bytes: &[u8]) -> (Vec<NodeEntry>, Vec<String>) {
    let mut nodes = Vec::new();
    let mut problems = Vec::new();
    let mut lines = bytes.split(|&b| b == b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let last = lines.peek().is_none();
        if last {
            if !line.is_empty() {
                problems.push(format!(
                    "line {}: truncated record ({} bytes) dropped",
                    index + 1,
                    line.len()
                ));
            }
            break;
        }
        match decode(line) {
            Ok(record) => apply(&mut nodes, record),
            Err(why) => problems.push(format!("line {}: {why}; record dropped", index + 1)),
        }
    }
    (nodes, problems)
}

/// Writes a damaged log's bytes to a new file `registry.log.damaged-<unix time>` (with
/// `-1`, `-2`, … when that name is taken: a backup is never overwritten).
fn keep_damaged(dir: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for n in 0..10_000u32 {
        let name = match n {
            0 => format!("{LOG_FILE}.damaged-{stamp}"),
            n => format!("{LOG_FILE}.damaged-{stamp}-{n}"),
        };
        let kept = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&kept) {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                return Ok(kept);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for a backup of the damaged log",
    ))
}

impl Store {
    /// Opens (or creates) the log in `dir` and recovers the list. A damaged log is kept as
    /// `registry.log.damaged-<unix time>` and replaced by a snapshot of what was intact.
    pub fn open(dir: &Path) -> io::Result<(Store, Recovered)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (nodes, problems) = replay(&bytes);
        let backup = if problems.is_empty() {
            None
        } else {
            Some(keep_damaged(dir, &bytes)?)
        };
        let mut store = Store {
            dir: dir.to_path_buf(),
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            appended: 0,
        };
        store.compact(&nodes)?;
        Ok((
            store,
            Recovered {
                nodes,
                problems,
                backup,
            },
        ))
    }

    /// Appends a record and waits until it is on disk.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.file.write_all(&encode(record))?;
        self.file.sync_data()?;
        self.appended += 1;
        Ok(())
    }

    /// Records appended since the last compaction.
    pub fn appended(&self) -> usize {
        self.appended
    }

    /// Rewrites the log as one record per node: written to a temporary file, synced,
    /// renamed over the log, and the directory synced.
    pub fn compact(&mut self, nodes: &[NodeEntry]) -> io::Result<()> {
        let path = self.dir.join(LOG_FILE);
        let tmp = self.dir.join(format!("{LOG_FILE}.tmp"));
        {
            let mut out = File::create(&tmp)?;
            for node in nodes {
                out.write_all(&encode(&Record::Register {
                    node_id: node.node_id.clone(),
                    address: node.address.clone(),
                    keep_alive: node.keep_alive,
                }))?;
            }
            out.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        self.file = OpenOptions::new().append(true).open(&path)?;
        self.appended = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(id: &str, addr: &str) -> Record {
        Record::Register {
            node_id: id.into(),
            address: addr.into(),
            keep_alive: false,
        }
    }

    #[test]
    fn records_survive_reopening_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, recovered) = Store::open(dir.path()).unwrap();
        assert!(recovered.nodes.is_empty() && recovered.problems.is_empty());
        store.append(&reg("a", "h:1")).unwrap();
        store.append(&reg("b", "h:2")).unwrap();
        store.append(&reg("a", "h:3")).unwrap();
        store
            .append(&Record::Unregister {
                node_id: "b".into(),
            })
            .unwrap();
        store.append(&reg("c", "h:4")).unwrap();
        drop(store);
        let (_, recovered) = Store::open(dir.path()).unwrap();
        assert_eq!(
            recovered.nodes,
            vec![NodeEntry::new("a", "h:3"), NodeEntry::new("c", "h:4")]
        );
        assert!(recovered.problems.is_empty());
        assert!(recovered.backup.is_none());
    }

    #[test]
    fn damaged_and_truncated_records_are_reported_and_the_rest_recovered() {
        let mut log = Vec::new();
        log.extend(encode(&reg("a", "h:1")));
        let mut bad = encode(&reg("b", "h:2"));
        bad[12] ^= 0x01;
        log.extend(bad);
        log.extend(b"garbage line\n");
        log.extend(encode(&reg("c", "h:3")));
        let truncated = encode(&reg("d", "h:4"));
        log.extend(&truncated[..truncated.len() - 5]);
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOG_FILE), &log).unwrap();
        let (_, recovered) = Store::open(dir.path()).unwrap();
        assert_eq!(
            recovered.nodes,
            vec![NodeEntry::new("a", "h:1"), NodeEntry::new("c", "h:3")]
        );
        assert_eq!(recovered.problems.len(), 3, "{:?}", recovered.problems);
        assert!(recovered.problems[0].starts_with("line 2: checksum mismatch"));
        assert!(recovered.problems[1].starts_with("line 3: "));
        assert!(recovered.problems[2].starts_with("line 5: truncated"));
        let backup = recovered.backup.unwrap();
        assert_eq!(fs::read(backup).unwrap(), log);
        let (_, again) = Store::open(dir.path()).unwrap();
        assert_eq!(again.nodes.len(), 2);
        assert!(again.problems.is_empty(), "the snapshot is clean");
    }

    #[test]
    fn damaged_starts_within_one_second_keep_every_backup() {
        let dir = tempfile::tempdir().unwrap();
        let mut kept = Vec::new();
        for i in 0..3u8 {
            let mut log = encode(&reg("a", "h:1"));
            log.extend(format!("damage {i}\n").as_bytes());
            fs::write(dir.path().join(LOG_FILE), &log).unwrap();
            let (_, recovered) = Store::open(dir.path()).unwrap();
            let backup = recovered.backup.unwrap();
            kept.push((backup, log));
        }
        let names: std::collections::HashSet<_> = kept.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(names.len(), 3, "{kept:?}");
        for (path, log) in kept {
            assert_eq!(fs::read(&path).unwrap(), log, "{}", path.display());
        }
    }
}
