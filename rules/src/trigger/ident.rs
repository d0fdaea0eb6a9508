//! RDS identifier rules: 1-63 (snapshots: 1-255) letters, digits and hyphens, first a letter,
//! no two consecutive hyphens, no trailing hyphen.

use std::fmt;

use serde::Serialize;

/// What kind of RDS resource an identifier names; it decides the length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    DbInstance,
    DbCluster,
    DbSnapshot,
    DbClusterSnapshot,
}

impl ResourceKind {
    pub fn max_len(self) -> usize {
        match self {
            ResourceKind::DbInstance | ResourceKind::DbCluster => 63,
            ResourceKind::DbSnapshot | ResourceKind::DbClusterSnapshot => 255,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::DbInstance => "db-instance",
            ResourceKind::DbCluster => "db-cluster",
            ResourceKind::DbSnapshot => "db-snapshot",
            ResourceKind::DbClusterSnapshot => "db-cluster-snapshot",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which RDS naming rule an identifier broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierRule {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must start with a letter")]
    FirstNotLetter,
    #[error("may contain only ASCII letters, digits and hyphens")]
    InvalidCharacter,
    #[error("must not contain two consecutive hyphens")]
    DoubleHyphen,
    #[error("must not end with a hyphen")]
    TrailingHyphen,
}

/// A validated RDS identifier (instance, cluster or snapshot). RDS stores them lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RdsIdentifier(String);

impl RdsIdentifier {
    pub fn parse(raw: &str, kind: ResourceKind) -> Result<Self, IdentifierRule> {
        check_identifier(raw, kind.max_len())?;
        Ok(Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RdsIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_identifier(raw: &str, max_len: usize) -> Result<(), IdentifierRule> {
    let first = raw.chars().next().ok_or(IdentifierRule::Empty)?;
    if raw.len() > max_len {
        return Err(IdentifierRule::TooLong(max_len));
    }
    if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(IdentifierRule::InvalidCharacter);
    }
    if !first.is_ascii_alphabetic() {
        return Err(IdentifierRule::FirstNotLetter);
    }
    if raw.contains("--") {
        return Err(IdentifierRule::DoubleHyphen);
    }
    if raw.ends_with('-') {
        return Err(IdentifierRule::TrailingHyphen);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_typical_names_and_lowercases_them() {
        let id = RdsIdentifier::parse("Orders-DB-1", ResourceKind::DbInstance).unwrap();
        assert_eq!(id.as_str(), "orders-db-1");
    }

    #[test]
    fn names_the_rule_that_was_broken() {
        let cases = [
            ("", IdentifierRule::Empty),
            ("1db", IdentifierRule::FirstNotLetter),
            ("-db", IdentifierRule::FirstNotLetter),
            ("db_1", IdentifierRule::InvalidCharacter),
            ("db--1", IdentifierRule::DoubleHyphen),
            ("db-", IdentifierRule::TrailingHyphen),
        ];
        for (raw, rule) in cases {
            let got = RdsIdentifier::parse(raw, ResourceKind::DbInstance).unwrap_err();
            assert_eq!(got, rule, "for {raw:?}");
        }
    }

    #[test]
    fn snapshot_names_may_be_longer_than_instance_names() {
        let name = format!("a{}", "b".repeat(99));
        assert_eq!(
            RdsIdentifier::parse(&name, ResourceKind::DbInstance),
            Err(IdentifierRule::TooLong(63))
        );
        assert!(RdsIdentifier::parse(&name, ResourceKind::DbSnapshot).is_ok());
        let too_long = "a".repeat(256);
        assert_eq!(
            RdsIdentifier::parse(&too_long, ResourceKind::DbSnapshot),
            Err(IdentifierRule::TooLong(255))
        );
    }

    #[test]
    fn exactly_at_the_length_limit_is_accepted_one_past_is_refused() {
        for (kind, max) in [
            (ResourceKind::DbInstance, 63),
            (ResourceKind::DbCluster, 63),
            (ResourceKind::DbSnapshot, 255),
            (ResourceKind::DbClusterSnapshot, 255),
        ] {
            assert_eq!(kind.max_len(), max);
            let at = format!("a{}", "b".repeat(max - 1));
            assert!(RdsIdentifier::parse(&at, kind).is_ok(), "{kind} at {max}");
            let past = format!("{at}c");
            assert_eq!(
                RdsIdentifier::parse(&past, kind),
                Err(IdentifierRule::TooLong(max))
            );
        }
    }

    proptest! {
        #[test]
        fn every_name_built_by_the_rules_is_accepted(
            first in "[a-zA-Z]",
            parts in proptest::collection::vec("[a-zA-Z0-9]{1,5}", 0..10),
        ) {
            let raw = std::iter::once(first).chain(parts).collect::<Vec<_>>().join("-");
            prop_assume!(raw.len() <= 63);
            prop_assert!(RdsIdentifier::parse(&raw, ResourceKind::DbInstance).is_ok());
        }

        #[test]
        fn accepted_names_obey_every_rule(raw in "[a-zA-Z0-9_ .-]{0,70}") {
            if let Ok(id) = RdsIdentifier::parse(&raw, ResourceKind::DbCluster) {
                let s = id.as_str();
                prop_assert!(!s.is_empty() && s.len() <= 63);
                prop_assert!(s.as_bytes()[0].is_ascii_alphabetic());
                prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
                prop_assert!(!s.contains("--") && !s.ends_with('-'));
            }
        }

        #[test]
        fn any_forbidden_character_is_refused(
            prefix in "[a-z][a-z0-9]{0,10}",
            bad in "[^a-zA-Z0-9-]",
        ) {
            let raw = format!("{prefix}{bad}x");
            prop_assert_eq!(
                RdsIdentifier::parse(&raw, ResourceKind::DbSnapshot),
                Err(IdentifierRule::InvalidCharacter)
            );
        }
    }
}
