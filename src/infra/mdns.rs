//! mDNS / DNS-SD (RFC 6762, RFC 6763): the server announces itself on the LAN as
//! `NAME.local` with `_friend._tcp` and `_https._tcp` (or `_http._tcp`), so the app and browsers find
//! it without typing an address. Off with `mdns.enabled = false`.

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

use crate::config::Config;

/// The announcement; withdrawn when dropped.
pub struct Announcer {
    daemon: ServiceDaemon,
    names: Vec<String>,
}

/// The DNS-SD instance name: the school's name, at most 63 bytes.
fn instance(school: &str) -> String {
    let mut name: String = school.chars().filter(|c| !c.is_control() && *c != '.').collect();
    while name.len() > 63 {
        name.pop();
    }
    if name.trim().is_empty() { "Friend".into() } else { name }
}

/// Announces the server listening on `port` (`https` when TLS is on); `None` when mDNS is off.
pub fn announce(config: &Config, port: u16, https: bool) -> Result<Option<Announcer>, String> {
    let m = &config.mdns;
    if !m.enabled {
        return Ok(None);
    }
    let err = |e: mdns_sd::Error| format!("mDNS: {e}");
    let daemon = ServiceDaemon::new().map_err(err)?;
    if m.include_loopback {
        daemon.enable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6]).map_err(err)?;
    }
    let host = format!("{}.local.", m.name);
    let scheme = if https { "https" } else { "http" };
    let txt = [("path", "/"), ("tls", if https { "on" } else { "off" }), ("version", env!("CARGO_PKG_VERSION"))];
    let name = instance(&config.school_name);
    let mut names = Vec::new();
    for ty in ["_friend._tcp.local.".to_string(), format!("_{scheme}._tcp.local.")] {
        let info = ServiceInfo::new(&ty, &name, &host, "", port, &txt[..]).map_err(err)?.enable_addr_auto();
        names.push(info.get_fullname().to_string());
        daemon.register(info).map_err(err)?;
    }
    tracing::info!(host = %host.trim_end_matches('.'), port, "announced on the LAN with mDNS (_friend._tcp, _{scheme}._tcp)");
    Ok(Some(Announcer { daemon, names }))
}

impl Drop for Announcer {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.daemon.unregister(n);
        }
        let _ = self.daemon.shutdown();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_names_fit_dns_sd() {
        assert_eq!(super::instance("Hill School"), "Hill School");
        assert_eq!(super::instance("a.b"), "ab");
        assert_eq!(super::instance(&"é".repeat(40)).len(), 62);
        assert_eq!(super::instance(" "), "Friend");
    }
}
