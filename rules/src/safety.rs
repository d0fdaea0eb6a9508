//! The safety rails every destructive function shares: the tag gate, dry-run defaults, and caps
//! that abort before acting. Pure, so each rule is unit-tested at its edges.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Tag values that switch a function off for a resource.
pub const OFF_VALUES: [&str; 4] = ["off", "disabled", "false", "no"];
/// Tag values that switch a function on (opt-in).
pub const ON_VALUES: [&str; 4] = ["on", "enabled", "true", "yes"];

fn is_one_of(value: &str, values: &[&str]) -> bool {
    values.iter().any(|v| v.eq_ignore_ascii_case(value.trim()))
}

/// Opt-out (and, where configured, opt-in) by tag on the resource. Opt-out wins; tags that
/// could not be read mean "no".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagGate {
    pub opt_out_tag: String,
    /// When set, only resources carrying this tag with an on value are acted on.
    pub opt_in_tag: Option<String>,
}

/// Why the gate let a resource through or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateVerdict {
    Allowed,
    OptedOut { tag: String, value: String },
    NotOptedIn { tag: String },
    Unreadable { reason: String },
}

impl GateVerdict {
    pub fn allowed(&self) -> bool {
        *self == GateVerdict::Allowed
    }
}

impl fmt::Display for GateVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateVerdict::Allowed => f.write_str("allowed"),
            GateVerdict::OptedOut { tag, value } => write!(f, "opted out: tag {tag}={value}"),
            GateVerdict::NotOptedIn { tag } => {
                write!(
                    f,
                    "not opted in: no tag {tag} with value on/enabled/true/yes"
                )
            }
            GateVerdict::Unreadable { reason } => {
                write!(f, "tags could not be read ({reason}): not acting")
            }
        }
    }
}

impl TagGate {
    /// `opt_out_tag` when set, else `default_opt_out`; `opt_in_tag` when set.
    pub fn new(opt_out_tag: Option<&str>, default_opt_out: &str, opt_in_tag: Option<&str>) -> Self {
        Self {
            opt_out_tag: opt_out_tag.unwrap_or(default_opt_out).trim().to_string(),
            opt_in_tag: opt_in_tag.map(|t| t.trim().to_string()),
        }
    }

    pub fn check<E: fmt::Display>(
        &self,
        tags: Result<&BTreeMap<String, String>, E>,
    ) -> GateVerdict {
        let tags = match tags {
            Ok(tags) => tags,
            Err(e) => {
                return GateVerdict::Unreadable {
                    reason: e.to_string(),
                }
            }
        };
        if let Some(value) = tags.get(&self.opt_out_tag) {
            if is_one_of(value, &OFF_VALUES) {
                return GateVerdict::OptedOut {
                    tag: self.opt_out_tag.clone(),
                    value: value.clone(),
                };
            }
        }
        match &self.opt_in_tag {
            Some(tag) if !tags.get(tag).is_some_and(|v| is_one_of(v, &ON_VALUES)) => {
                GateVerdict::NotOptedIn { tag: tag.clone() }
            }
            _ => GateVerdict::Allowed,
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// Whether a run only plans: manual requests unless they say `"dry_run": false`; automatic
/// triggers (alarms, events, schedules) unless the function is configured to only plan.
pub fn dry_run(manual: bool, requested: Option<bool>, automatic_dry_run: bool) -> bool {
    if manual {
        requested.unwrap_or(true)
    } else {
        automatic_dry_run
    }
}

/// A blast-radius cap: the smaller of an absolute number and a share of a total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cap {
    pub max: u64,
    /// Share of the total (0-1) one run may act on; `None`: no share limit.
    pub max_fraction: Option<f64>,
}

/// A cap applied to one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapCheck {
    pub cap: u64,
    /// More eligible than the cap: the run aborts before acting on any.
    pub exceeded: bool,
}

impl Cap {
    pub fn check(&self, eligible: u64, total: u64) -> CapCheck {
        let by_fraction = self
            .max_fraction
            .map(|f| (f * total as f64).floor() as u64)
            .unwrap_or(u64::MAX);
        let cap = self.max.min(by_fraction);
        CapCheck {
            cap,
            exceeded: eligible > cap,
        }
    }
}

/// A client network, `10.0.0.0/8` or `2001:db8::/32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Option<Self> {
        let (addr, prefix) = raw.trim().split_once('/')?;
        let network: IpAddr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, ip, bits) = match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => (
                u128::from(u32::from(n)) << 96,
                u128::from(u32::from(i)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), self.prefix),
            _ => return false,
        };
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(bits))
        };
        net & mask == ip & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_rules() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.200.1.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::5".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0.0"), None);
        // The edges: a host route is one address; IPv6 goes to /128.
        let host = Cidr::parse(" 10.0.0.1/32 ").unwrap();
        assert!(host.contains("10.0.0.1".parse().unwrap()));
        assert!(!host.contains("10.0.0.0".parse().unwrap()));
        let v6_host = Cidr::parse("2001:db8::1/128").unwrap();
        assert!(v6_host.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6_host.contains("2001:db8::2".parse().unwrap()));
        assert_eq!(Cidr::parse("2001:db8::/129"), None);
        assert!(!Cidr::parse("::/0")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        let mid = Cidr::parse("192.168.4.0/22").unwrap();
        assert!(mid.contains("192.168.7.255".parse().unwrap()));
        assert!(!mid.contains("192.168.8.0".parse().unwrap()));
        assert_eq!(Cidr::parse("x/8"), None);
        assert_eq!(Cidr::parse("10.0.0.0/x"), None);
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn gate(opt_in: Option<&str>) -> TagGate {
        TagGate {
            opt_out_tag: "rds-responder:idle-reaper".into(),
            opt_in_tag: opt_in.map(str::to_string),
        }
    }

    #[test]
    fn opt_out_values_switch_off_whatever_their_case() {
        for value in ["off", "Disabled", " FALSE ", "no"] {
            let verdict =
                gate(None).check::<String>(Ok(&tags(&[("rds-responder:idle-reaper", value)])));
            assert_eq!(
                verdict,
                GateVerdict::OptedOut {
                    tag: "rds-responder:idle-reaper".into(),
                    value: value.into()
                }
            );
            assert!(verdict.to_string().contains("opted out"));
        }
        for value in ["on", "", "offline", "nope"] {
            assert!(gate(None)
                .check::<String>(Ok(&tags(&[("rds-responder:idle-reaper", value)])))
                .allowed());
        }
    }

    #[test]
    fn opt_out_wins_over_opt_in() {
        let both = tags(&[("rds-responder:idle-reaper", "off"), ("backup", "yes")]);
        assert!(matches!(
            gate(Some("backup")).check::<String>(Ok(&both)),
            GateVerdict::OptedOut { .. }
        ));
    }

    #[test]
    fn opt_in_needs_an_on_value() {
        let g = gate(Some("backup"));
        assert!(g.check::<String>(Ok(&tags(&[("backup", "Yes")]))).allowed());
        for t in [
            tags(&[]),
            tags(&[("backup", "maybe")]),
            tags(&[("Backup", "yes")]),
        ] {
            assert_eq!(
                g.check::<String>(Ok(&t)),
                GateVerdict::NotOptedIn {
                    tag: "backup".into()
                }
            );
        }
    }

    #[test]
    fn unreadable_tags_mean_no() {
        let verdict = gate(None).check(Err("AccessDenied"));
        assert_eq!(
            verdict,
            GateVerdict::Unreadable {
                reason: "AccessDenied".into()
            }
        );
        assert!(!verdict.allowed());
        assert!(verdict.to_string().contains("AccessDenied"));
    }

    #[test]
    fn manual_runs_are_dry_unless_told_and_automatic_ones_follow_the_setting() {
        assert!(dry_run(true, None, false));
        assert!(!dry_run(true, Some(false), true));
        assert!(dry_run(true, Some(true), false));
        assert!(!dry_run(false, None, false));
        assert!(dry_run(false, None, true));
        assert!(
            !dry_run(false, Some(true), false),
            "automatic runs take no request"
        );
    }

    #[test]
    fn the_smaller_cap_wins_and_exactly_at_the_cap_is_allowed() {
        let cap = Cap {
            max: 10,
            max_fraction: Some(0.5),
        };
        assert_eq!(
            cap.check(10, 100),
            CapCheck {
                cap: 10,
                exceeded: false
            }
        );
        assert_eq!(
            cap.check(11, 100),
            CapCheck {
                cap: 10,
                exceeded: true
            }
        );
        assert_eq!(
            cap.check(4, 9),
            CapCheck {
                cap: 4,
                exceeded: false
            }
        );
        assert_eq!(
            cap.check(5, 9),
            CapCheck {
                cap: 4,
                exceeded: true
            }
        );
        let absolute = Cap {
            max: 3,
            max_fraction: None,
        };
        assert_eq!(
            absolute.check(3, 0),
            CapCheck {
                cap: 3,
                exceeded: false
            }
        );
        assert_eq!(
            absolute.check(4, 1_000),
            CapCheck {
                cap: 3,
                exceeded: true
            }
        );
        assert_eq!(
            absolute.check(0, 0),
            CapCheck {
                cap: 3,
                exceeded: false
            }
        );
    }

    #[test]
    fn a_pattern_without_a_wildcard_matches_only_itself() {
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(!glob_match("exact", "inexact"));
        assert!(!glob_match("", "x"));
        assert!(glob_match("", ""));
    }

    #[test]
    fn wildcards_match_at_their_own_position_only() {
        // `*suffix`: only at the end.
        assert!(glob_match("*dump", "pg_dump"));
        assert!(glob_match("*dump", "dump"));
        assert!(!glob_match("*dump", "pg_dump_helper"));
        assert!(!glob_match("*dump", "dum"));
        // `prefix*`: only at the start.
        assert!(glob_match("pg_dump*", "pg_dump_helper"));
        assert!(glob_match("pg_dump*", "pg_dump"));
        assert!(!glob_match("pg_dump*", "my_pg_dump"));
        // `*middle*`: anywhere.
        assert!(glob_match("*migrat*", "flyway-migrate"));
        assert!(!glob_match("*migrat*", "flyway"));
        // A middle part is consumed before the next is looked for.
        assert!(!glob_match("*lock*lock", "unlock"));
        assert!(glob_match("*lock*lock", "lock-unlock"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "aXcYb"));
        assert!(!glob_match("a*b", "ac"));
        assert!(!glob_match("ab*cd*", "abc"));
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
    }
}
