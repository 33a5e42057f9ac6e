//! The test vectors of `spec/vectors` (format: `spec/vectors/README.md`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Files holding frame vectors, in the order the suite runs them.
pub const VECTOR_FILES: [&str; 7] = [
    "frame.json",
    "version-status.json",
    "json.json",
    "utf8.json",
    "envelope.json",
    "core.json",
    "legacy.json",
];

/// The v0.0.1 exchanges file.
pub const EXCHANGES_FILE: &str = "legacy-exchanges.json";

/// `valid`, `invalid` or `acceptable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The decoder must accept and produce `frame`.
    Valid,
    /// The decoder must refuse with `error`.
    Invalid,
    /// Either outcome conforms.
    Acceptable,
}

/// What a node answers to a vector sent as a request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpectedReply {
    /// `any`, `service`, `registry` or `broker`.
    pub role: String,
    /// Status byte.
    pub status: u8,
    /// `µHome.response` or `µHome.error`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The reply's code.
    pub code: String,
    /// The message, where the spec fixes it.
    pub message: Option<String>,
    /// The reason, where the spec fixes it.
    pub reason: Option<String>,
    /// The member the reason names, between double quotes ([UH-REPLY-11]).
    #[serde(default)]
    pub member: Option<String>,
}

/// One vector.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    /// Stable id, `<file>/<slug>`.
    pub id: String,
    /// One line.
    pub description: String,
    /// Input bytes, hex.
    pub hex: String,
    /// Expected outcome.
    pub result: Expect,
    /// The canonical decoded frame.
    pub frame: Option<Value>,
    /// The decoder's error code.
    pub error: Option<String>,
    /// Bytes still needed (`incomplete`).
    pub needed: Option<usize>,
    /// The reply of a node, when the bytes alone decide it.
    pub reply: Option<ExpectedReply>,
    /// Requirement IDs.
    pub requirements: Vec<String>,
    /// Flag names.
    pub flags: Vec<String>,
}

impl Vector {
    /// The input bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        hex::decode(&self.hex).map_err(|e| format!("{}: bad hex: {e}", self.id))
    }
}

/// A vector file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VectorFile {
    /// File name without `.json`.
    pub name: String,
    /// What the file exercises.
    pub description: String,
    /// Specification version.
    pub spec_version: String,
    /// Flag descriptions.
    pub flags: Map<String, Value>,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

/// Parses JSON that may nest deeper than serde_json's default limit and hold numbers of any
/// size (the vectors do both).
pub fn parse_json(text: &str) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Reads one vector file.
pub fn load_file(path: &Path) -> Result<VectorFile, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value = parse_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))
}

/// The vector files of this repository, compiled in: `(file name, text)`.
pub const EMBEDDED: [(&str, &str); 7] = [
    ("frame.json", include_str!("../../spec/vectors/frame.json")),
    (
        "version-status.json",
        include_str!("../../spec/vectors/version-status.json"),
    ),
    ("json.json", include_str!("../../spec/vectors/json.json")),
    ("utf8.json", include_str!("../../spec/vectors/utf8.json")),
    (
        "envelope.json",
        include_str!("../../spec/vectors/envelope.json"),
    ),
    ("core.json", include_str!("../../spec/vectors/core.json")),
    (
        "legacy.json",
        include_str!("../../spec/vectors/legacy.json"),
    ),
];

/// The compiled-in vector files.
pub fn embedded() -> Result<Vec<VectorFile>, String> {
    EMBEDDED
        .iter()
        .map(|(name, text)| {
            let value = parse_json(text).map_err(|e| format!("{name}: {e}"))?;
            serde_json::from_value(value).map_err(|e| format!("{name}: {e}"))
        })
        .collect()
}

/// Reads every vector file of `dir`.
pub fn load_all(dir: &Path) -> Result<Vec<VectorFile>, String> {
    VECTOR_FILES
        .iter()
        .map(|f| load_file(&dir.join(f)))
        .collect()
}

/// `spec/vectors` of this repository, for tests and the embedded default.
pub fn repository_vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}
