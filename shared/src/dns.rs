//! Endpoint name resolution, behind a trait so decisions can be tested without DNS.

use std::net::IpAddr;

#[allow(async_fn_in_trait)]
pub trait Resolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (what the database driver will use too).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| e.to_string())?;
        let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.sort();
        ips.dedup();
        if ips.is_empty() {
            return Err(format!("{host} resolved to no addresses"));
        }
        Ok(ips)
    }
}
