//! µHome types and patterns ↔ MQTT topics and filters.
//!
//! A type's tokens become topic levels under the prefix: `home.lamp.on` ↔ `uhome/home/lamp/on`.
//! A mapping exists only where it is exact, both ways:
//!
//! - a token or level holding `/`, `.`, `+`, `#` or NUL has no counterpart;
//! - `*` (one token) ↔ `+` (one level);
//! - a final `>` (one or more tokens) ↔ `+/#` (one level, then zero or more); a bare `#` also
//!   matches the parent level, which no pattern does, so it maps to no pattern;
//! - reserved types (`µHome.…`) and `$` topics (the broker's own) do not map.

use uhome_protocol::core_events::{is_valid_pattern, MAX_NAME_CHARS, RESERVED_PREFIX};

/// Characters that no token maps through: level separators and MQTT wildcards.
fn token_ok(token: &str) -> bool {
    !token.contains(['/', '.', '+', '#', '\0'])
}

fn join(prefix: &str, levels: &str) -> String {
    if prefix.is_empty() {
        levels.to_string()
    } else {
        format!("{prefix}/{levels}")
    }
}

/// The levels after `prefix/`, or the whole topic when it does not start with the prefix.
fn strip<'a>(prefix: &str, topic: &'a str) -> &'a str {
    if prefix.is_empty() {
        return topic;
    }
    topic
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(topic)
}

/// The topic of µHome type `event_type`: `PREFIX/` and its tokens as levels.
pub fn type_to_topic(prefix: &str, event_type: &str) -> Option<String> {
    if event_type.is_empty() || event_type.starts_with(RESERVED_PREFIX) {
        return None;
    }
    let mut levels = Vec::new();
    for token in event_type.split('.') {
        if !token_ok(token) || token == "*" || token == ">" {
            return None;
        }
        levels.push(token);
    }
    Some(join(prefix, &levels.join("/")))
}

/// The µHome type of MQTT topic `topic`: the levels after `PREFIX/` (or all of them, for a
/// topic outside the prefix) joined with `.`; `None` when that is not a type that can be
/// published ([UH-BROKER-6]) or does not map back to the same topic.
pub fn topic_to_type(prefix: &str, topic: &str) -> Option<String> {
    if topic.is_empty() || topic.starts_with('$') || topic == prefix {
        return None;
    }
    let rest = strip(prefix, topic);
    let mut tokens = Vec::new();
    for level in rest.split('/') {
        if !token_ok(level) || level == "*" || level == ">" {
            return None;
        }
        tokens.push(level);
    }
    let event_type = tokens.join(".");
    if event_type.is_empty()
        || event_type.starts_with(RESERVED_PREFIX)
        || event_type.chars().count() > MAX_NAME_CHARS
    {
        return None;
    }
    Some(event_type)
}

/// The MQTT filter matching exactly the topics of the types `pattern` matches.
pub fn pattern_to_filter(prefix: &str, pattern: &str) -> Option<String> {
    if !is_valid_pattern(pattern) || pattern.starts_with(RESERVED_PREFIX) {
        return None;
    }
    let mut levels = Vec::new();
    for token in pattern.split('.') {
        match token {
            "*" => levels.push("+"),
            ">" => levels.push("+/#"),
            t if token_ok(t) => levels.push(t),
            _ => return None,
        }
    }
    Some(join(prefix, &levels.join("/")))
}

/// The µHome pattern matching exactly the types of the topics `filter` matches, when there
/// is one.
pub fn filter_to_pattern(prefix: &str, filter: &str) -> Option<String> {
    let rest = if prefix.is_empty() {
        filter
    } else if let Some(rest) = filter
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
    {
        rest
    } else {
        // Outside the prefix, a filter whose first level may be the prefix also matches
        // topics whose prefix is stripped.
        match filter.split('/').next() {
            Some("+" | "#") | None => return None,
            Some(first) if first == prefix => return None,
            Some(_) => filter,
        }
    };
    if rest.starts_with('$') {
        return None;
    }
    let levels: Vec<&str> = rest.split('/').collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(level) = levels.get(i) {
        match *level {
            "+" if levels.get(i + 1) == Some(&"#") => {
                if i + 2 != levels.len() {
                    return None;
                }
                tokens.push(">");
                i += 2;
                continue;
            }
            "+" => tokens.push("*"),
            "#" => return None,
            "*" | ">" => return None,
            l if token_ok(l) => tokens.push(l),
            _ => return None,
        }
        i += 1;
    }
    let pattern = tokens.join(".");
    (is_valid_pattern(&pattern) && !pattern.starts_with(RESERVED_PREFIX)).then_some(pattern)
}

/// Whether MQTT `filter` matches `topic` (MQTT 3.1.1 section 4.7).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether `filter` is a valid MQTT topic filter: `#` only as the last level, wildcards only
/// as whole levels.
pub fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') || filter.len() > 65535 {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let wildcard = level.contains(['+', '#']);
        if wildcard && level != "+" && level != "#" {
            return false;
        }
        if level == "#" && levels.peek().is_some() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use uhome_protocol::core_events::pattern_matches;

    #[test]
    fn types_and_topics_map_both_ways() {
        assert_eq!(
            type_to_topic("uhome", "home.lamp.on").as_deref(),
            Some("uhome/home/lamp/on")
        );
        assert_eq!(type_to_topic("", "a.b").as_deref(), Some("a/b"));
        assert_eq!(
            type_to_topic("uhome", "a..b").as_deref(),
            Some("uhome/a//b")
        );
        for bad in ["a/b", "a+b", "a.#", "", "µHome.core.publish", "a.*", "a.>"] {
            assert_eq!(type_to_topic("uhome", bad), None, "{bad}");
        }
        assert_eq!(
            topic_to_type("uhome", "uhome/home/lamp/on").as_deref(),
            Some("home.lamp.on")
        );
        assert_eq!(
            topic_to_type("uhome", "zigbee2mqtt/lamp").as_deref(),
            Some("zigbee2mqtt.lamp")
        );
        for bad in [
            "uhome",
            "uhome/",
            "",
            "$SYS/broker/uptime",
            "uhome/a.b",
            "uhome/*/x",
            "uhome/x/>",
            "uhome/µHome/core/publish",
        ] {
            assert_eq!(topic_to_type("uhome", bad), None, "{bad}");
        }
        let long = vec!["a"; 200].join("/");
        assert_eq!(topic_to_type("uhome", &long), None);
    }

    #[test]
    fn wildcards_map_only_where_exact() {
        assert_eq!(
            pattern_to_filter("uhome", "home.*.on").as_deref(),
            Some("uhome/home/+/on")
        );
        assert_eq!(
            pattern_to_filter("uhome", "home.>").as_deref(),
            Some("uhome/home/+/#")
        );
        assert_eq!(pattern_to_filter("uhome", "a.>.b"), None);
        assert_eq!(pattern_to_filter("uhome", "a/b"), None);
        assert_eq!(
            filter_to_pattern("uhome", "uhome/home/+/on").as_deref(),
            Some("home.*.on")
        );
        assert_eq!(
            filter_to_pattern("uhome", "uhome/home/+/#").as_deref(),
            Some("home.>")
        );
        assert_eq!(filter_to_pattern("uhome", "uhome/home/#"), None);
        assert_eq!(filter_to_pattern("uhome", "#"), None);
        assert_eq!(filter_to_pattern("uhome", "+/x"), None);
        assert_eq!(
            filter_to_pattern("uhome", "z2m/+").as_deref(),
            Some("z2m.*")
        );
        // Every mapped pair agrees on what it matches.
        let pairs = [
            ("home.*.on", "uhome/home/+/on"),
            ("home.>", "uhome/home/+/#"),
        ];
        let types = [
            "home.lamp.on",
            "home.lamp",
            "home",
            "home.a.b.on",
            "home..on",
        ];
        for (pattern, filter) in pairs {
            for t in types {
                let topic = type_to_topic("uhome", t).unwrap();
                assert_eq!(
                    pattern_matches(pattern, t),
                    filter_matches(filter, &topic),
                    "{pattern} / {filter} on {t}"
                );
            }
        }
    }

    #[test]
    fn filters_match_and_validate() {
        assert!(filter_matches("uhome/#", "uhome"));
        assert!(filter_matches("uhome/#", "uhome/a/b"));
        assert!(filter_matches("uhome/+/b", "uhome/a/b"));
        assert!(!filter_matches("uhome/+", "uhome/a/b"));
        assert!(!filter_matches("#", "$SYS/x"));
        assert!(is_valid_filter("a/+/#"));
        assert!(!is_valid_filter("a/#/b"));
        assert!(!is_valid_filter("a/b+"));
        assert!(!is_valid_filter(""));
    }
}
