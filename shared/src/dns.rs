//! Endpoint name resolution, behind a trait so decisions can be tested without DNS.

use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Lookup(#[source] std::io::Error),
    #[error("{host} resolved to no addresses")]
    NoAddresses { host: String },
    #[error("{0}")]
    TimedOut(#[from] crate::budget::CutShort),
}

/// The longest one lookup may take (the system resolver's own retries can take much longer).
pub const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[allow(async_fn_in_trait)]
pub trait Resolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The system resolver (what the database driver will use too).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let lookup = tokio::net::lookup_host((host, port));
        let addrs = crate::budget::limited("DNS lookup", Some(LOOKUP_TIMEOUT), lookup)
            .await?
            .map_err(ResolveError::Lookup)?;
        let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return Err(ResolveError::NoAddresses { host: host.into() });
        }
        Ok(ips)
    }
}
