//! The specification's requirements, read from `spec/protocol.md` (embedded at build time so
//! the binary works anywhere).

use std::collections::BTreeMap;

/// `spec/protocol.md`.
pub const PROTOCOL_MD: &str = include_str!("../../spec/protocol.md");

/// How strong a requirement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// MUST / MUST NOT / REQUIRED / SHALL: breaking it is a FAIL.
    Must,
    /// SHOULD / SHOULD NOT / RECOMMENDED: breaking it is NON-STRICT.
    Should,
    /// MAY / OPTIONAL.
    May,
}

impl Level {
    /// `MUST`, `SHOULD` or `MAY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// One requirement paragraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `UH-AREA-n`
    pub id: String,
    /// The paragraph, on one line.
    pub text: String,
    /// The strongest keyword in it.
    pub level: Level,
}

impl Requirement {
    /// The area: `FRAME`, `EXCHANGE`, …
    pub fn area(&self) -> &str {
        area(&self.id)
    }
}

/// The area of a requirement ID.
pub fn area(id: &str) -> &str {
    id.split('-').nth(1).unwrap_or("OTHER")
}

/// `[ID] text` of each of `ids`, one per line.
pub fn requirement_text(ids: &[String], requirements: &BTreeMap<String, Requirement>) -> String {
    ids.iter()
        .filter_map(|id| {
            requirements
                .get(id)
                .map(|r| format!("[{}] {}", r.id, r.text))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every requirement of the specification, by ID.
pub fn requirements() -> BTreeMap<String, Requirement> {
    let mut out = BTreeMap::new();
    for paragraph in PROTOCOL_MD.split("\n\n") {
        let Some(rest) = paragraph.trim_start().strip_prefix("**[") else {
            continue;
        };
        let Some((id, text)) = rest.split_once("]**") else {
            continue;
        };
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let level = if ["MUST", "REQUIRED", "SHALL"]
            .iter()
            .any(|k| text.contains(k))
        {
            Level::Must
        } else if ["SHOULD", "RECOMMENDED"].iter().any(|k| text.contains(k)) {
            Level::Should
        } else {
            Level::May
        };
        out.insert(
            id.to_string(),
            Requirement {
                id: id.to_string(),
                text,
                level,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_requirement() {
        let reqs = requirements();
        assert!(reqs.len() > 80);
        assert_eq!(reqs["UH-FRAME-2"].level, Level::Must);
        assert_eq!(reqs["UH-VERSION-1"].level, Level::Should);
        assert!(reqs["UH-STATUS-3"].text.contains("Error in Message"));
        assert_eq!(reqs["UH-BROKER-3"].area(), "BROKER");
    }
}
