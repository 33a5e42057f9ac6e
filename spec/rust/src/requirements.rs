//! The requirement paragraphs of `spec/protocol.md`: `**[UH-AREA-n]** text`.

use std::collections::BTreeMap;

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

/// Every requirement paragraph of `markdown` (the text of `spec/protocol.md`), by ID.
pub fn parse(markdown: &str) -> BTreeMap<String, Requirement> {
    let mut out = BTreeMap::new();
    for paragraph in markdown.split("\n\n") {
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

/// The requirements of this repository's `spec/protocol.md`.
pub fn requirements() -> BTreeMap<String, Requirement> {
    parse(crate::PROTOCOL_MD)
}

/// The IDs of the MUST requirements.
pub fn musts(requirements: &BTreeMap<String, Requirement>) -> Vec<String> {
    requirements
        .values()
        .filter(|r| r.level == Level::Must)
        .map(|r| r.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paragraphs_and_their_strongest_keyword() {
        let md = "# T\n\n**[UH-A-1]** A node MUST do x\nand SHOULD y.\n\n**[UH-A-2]** It SHOULD.\n\n**[UH-B-1]** It MAY.\n\nplain **[UH-C-1]** not a paragraph start";
        let reqs = parse(md);
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs["UH-A-1"].level, Level::Must);
        assert_eq!(reqs["UH-A-1"].text, "A node MUST do x and SHOULD y.");
        assert_eq!(reqs["UH-A-2"].level, Level::Should);
        assert_eq!(reqs["UH-B-1"].level, Level::May);
        assert_eq!(reqs["UH-B-1"].area(), "B");
        assert_eq!(musts(&reqs), vec!["UH-A-1".to_string()]);
    }
}
