//! Comparing JSON values as the vectors require: objects without regard to member order,
//! numbers by their exact decimal value (`1`, `1.0` and `10e-1` are equal).

use serde_json::Value;

/// Whether `a` and `b` are the same JSON value.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => decimal(&x.to_string()) == decimal(&y.to_string()),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON number as (negative, significant digits, power of ten), with no leading or
/// trailing zeros in the digits; zero is `(false, "", 0)`.
fn decimal(text: &str) -> Option<(bool, String, i128)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i128>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let mut power = exponent - frac.len() as i128;
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    power += (trimmed.len() - significant.len()) as i128;
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, significant.to_string(), power))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn n(text: &str) -> Value {
        crate::vectors::parse_json(text).unwrap()
    }

    #[test]
    fn numbers_compare_by_exact_value() {
        assert!(json_eq(&n("1"), &n("1.0")));
        assert!(json_eq(&n("1"), &n("10e-1")));
        assert!(json_eq(&n("-0"), &n("0.0e5")));
        assert!(json_eq(&n("1e400"), &n("10e399")));
        assert!(!json_eq(&n("1e400"), &n("1e401")));
        assert!(!json_eq(
            &n("12345678901234567890123"),
            &n("12345678901234567890124")
        ));
        assert!(!json_eq(&n("-1"), &n("1")));
    }

    #[test]
    fn objects_ignore_member_order() {
        assert!(json_eq(
            &json!({"a": 1, "b": [1, 2]}),
            &json!({"b": [1, 2], "a": 1.0})
        ));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
    }
}
