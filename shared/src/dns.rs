//! Endpoint name resolution, behind a trait so decisions can be tested without DNS.

use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Lookup(#[source] std::io::Error),
    #[error("{host} resolved to no addresses")]
    NoAddresses { host: String },
}

#[allow(async_fn_in_trait)]
pub trait Resolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The system resolver (what the database driver will use too).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = tokio::net::lookup_host((host, port))
            .await
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
