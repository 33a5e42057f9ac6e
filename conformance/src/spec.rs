//! The specification's requirements, read from `spec/protocol.md` (embedded at build time so
//! the binary works anywhere).

use std::collections::BTreeMap;

pub use uhome_spec::requirements::{area, Level, Requirement};

/// `spec/protocol.md`.
pub const PROTOCOL_MD: &str = uhome_spec::PROTOCOL_MD;

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
    uhome_spec::requirements::requirements()
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
