//! Who the function is (account, region) and how an ARN names its account, region and
//! service; how a trigger reached the function.

use serde::Serialize;

use super::TriggerError;

/// Who the function is: events must come from this account and region.
#[derive(Debug, Clone)]
pub struct Origin {
    pub account_id: String,
    pub region: String,
}

impl Origin {
    /// Takes the account from the invoked function ARN (`arn:aws:lambda:<region>:<account>:function:<name>`).
    pub fn from_function_arn(arn: &str, region: &str) -> Result<Self, TriggerError> {
        let parsed = Arn::parse(arn).ok_or_else(|| TriggerError::InvalidField {
            field: "invoked_function_arn".into(),
            rule: "must be an ARN of the form arn:<partition>:lambda:<region>:<account>:function:<name>".into(),
        })?;
        Ok(Self {
            account_id: parsed.account.to_string(),
            region: region.to_string(),
        })
    }

    /// Refuses an ARN from another account or region.
    pub(crate) fn check_arn(&self, field: &str, arn: &str) -> Result<(), TriggerError> {
        let parsed = Arn::parse(arn).ok_or_else(|| TriggerError::InvalidField {
            field: field.into(),
            rule: format!("must be an ARN, got {arn:?}"),
        })?;
        self.check_account(field, parsed.account)?;
        // Some ARNs (S3, IAM) carry no region; every ARN we read here does.
        self.check_region(field, parsed.region)
    }

    pub(crate) fn check_account(&self, field: &str, account: &str) -> Result<(), TriggerError> {
        if account == self.account_id {
            Ok(())
        } else {
            Err(TriggerError::ForeignAccount {
                field: field.into(),
                expected: self.account_id.clone(),
                got: account.into(),
            })
        }
    }

    pub(crate) fn check_region(&self, field: &str, region: &str) -> Result<(), TriggerError> {
        if region == self.region {
            Ok(())
        } else {
            Err(TriggerError::ForeignRegion {
                field: field.into(),
                expected: self.region.clone(),
                got: region.into(),
            })
        }
    }
}

/// The parts of an ARN we check.
pub(crate) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl<'a> Arn<'a> {
    pub(crate) fn parse(raw: &'a str) -> Option<Self> {
        let mut parts = raw.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let _partition = parts.next().filter(|p| !p.is_empty())?;
        let service = parts.next().filter(|s| !s.is_empty())?;
        let region = parts.next()?;
        let account = parts.next()?;
        let _resource = parts.next().filter(|r| !r.is_empty())?;
        Some(Self {
            service,
            region,
            account,
        })
    }
}

/// How the trigger reached the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    EventBridge,
    Sns,
    AlarmAction,
    Manual,
}
