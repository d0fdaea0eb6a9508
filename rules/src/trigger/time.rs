//! AWS services write timestamps in several shapes; this reads all the ones they send.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses RFC 3339 (`2024-05-01T10:00:00Z`), CloudWatch's `+0000` offsets
/// (`2024-05-01T10:00:00.123+0000`) and the RDS SNS `Event Time` (`2024-05-01 10:00:00.123`, UTC).
pub fn parse_aws_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(raw, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_shape_aws_sends() {
        let expected = "2024-05-01T10:00:00.123Z";
        for raw in [
            "2024-05-01T10:00:00.123Z",
            "2024-05-01T10:00:00.123+0000",
            "2024-05-01T12:00:00.123+02:00",
            "2024-05-01 10:00:00.123",
            " 2024-05-01T10:00:00.123 ",
        ] {
            let parsed = parse_aws_time(raw).unwrap_or_else(|| panic!("{raw} not parsed"));
            assert_eq!(
                parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                expected
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for raw in ["", "yesterday", "2024-13-01T00:00:00Z", "1714557600"] {
            assert_eq!(parse_aws_time(raw), None, "{raw}");
        }
    }
}
