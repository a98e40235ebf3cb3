//! HTTPS on a LAN with no Internet. `tls.mode = files`: a certificate and key from paths, read
//! again when they change. `tls.mode = local-ca`: on first start a local certificate authority
//! (ECDSA P-256, 10 years) is made under `DATA_DIR/tls`, and a server certificate signed by it
//! for `localhost`, the machine's name and `.local` name, its LAN addresses and `tls.hosts`; the
//! server certificate is made again when those names change or 30 days before it expires (it
//! lasts 365 days, under the 398 days browsers accept). Phones trust the CA once: it is served at
//! `/ca.crt` and its SHA-256 fingerprint is printed at start-up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{Config, TlsMode};
use crate::store::power_safe::{create_private_dir, write_file};

/// A certificate chain and its private key, PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keycert {
    /// Certificate chain (the server's first).
    pub cert_pem: String,
    /// Private key.
    pub key_pem: String,
}

/// What the local CA's users need: its certificate and fingerprint.
#[derive(Clone, Debug)]
pub struct CaInfo {
    /// The CA certificate, PEM (served at `/ca.crt`).
    pub pem: String,
    /// SHA-256 of its DER, upper-case hex pairs joined by `:` (as phones show it).
    pub fingerprint: String,
}

const CA_DAYS: i64 = 3650;
const SERVER_DAYS: i64 = 365;
const RENEW_BEFORE_DAYS: i64 = 30;

/// What the CA's certificate was made from, kept beside it so the same issuer can sign again.
#[derive(Serialize, Deserialize)]
struct CaMeta {
    common_name: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    fingerprint: String,
}

/// The server certificate's names and end, kept beside it.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct ServerMeta {
    names: Vec<String>,
    not_after: DateTime<Utc>,
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("tls: {what}: {e}")
}

fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

/// SHA-256 of a DER certificate as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn to_offset(t: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn ca_params(meta: &CaMeta) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, meta.common_name.clone());
    dn.push(DnType::OrganizationName, "Friend (local, this school only)");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = to_offset(meta.not_before);
    p.not_after = to_offset(meta.not_after);
    p
}

/// The local CA: its key, the issuer it signs as, and what clients are given.
struct LocalCa {
    key: KeyPair,
    issuer: rcgen::Certificate,
    info: CaInfo,
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| err(&format!("cannot read {}", path.display()), e))
}

/// Loads the CA of `dir`, or makes it (first start).
fn local_ca(dir: &Path, school: &str, now: DateTime<Utc>) -> Result<LocalCa, String> {
    let (key_path, cert_path, meta_path) = (dir.join("ca.key"), dir.join("ca.crt"), dir.join("ca.json"));
    if key_path.exists() && cert_path.exists() && meta_path.exists() {
        let key = KeyPair::from_pem(&read(&key_path)?).map_err(|e| err("ca.key", e))?;
        let meta: CaMeta = serde_json::from_str(&read(&meta_path)?).map_err(|e| err("ca.json", e))?;
        // The same name, key and validity: certificates it signs chain to the stored ca.crt.
        let issuer = ca_params(&meta).self_signed(&key).map_err(|e| err("ca", e))?;
        return Ok(LocalCa { key, issuer, info: CaInfo { pem: read(&cert_path)?, fingerprint: meta.fingerprint } });
    }
    let key = KeyPair::generate().map_err(|e| err("ca key", e))?;
    let mut meta = CaMeta {
        common_name: format!("{school} local CA"),
        not_before: now - chrono::Duration::days(1),
        not_after: now + chrono::Duration::days(CA_DAYS),
        fingerprint: String::new(),
    };
    let cert = ca_params(&meta).self_signed(&key).map_err(|e| err("ca", e))?;
    meta.fingerprint = fingerprint(cert.der());
    let meta_json = serde_json::to_vec_pretty(&meta).map_err(|e| err("ca.json", e))?;
    let write = |p: &Path, b: &[u8], private| write_file(p, b, private).map_err(|e| err(&format!("cannot write {}", p.display()), e));
    write(&key_path, key.serialize_pem().as_bytes(), true)?;
    write(&cert_path, cert.pem().as_bytes(), false)?;
    write(&meta_path, &meta_json, false)?;
    tracing::info!(fingerprint = %meta.fingerprint, "made a local certificate authority for HTTPS");
    Ok(LocalCa { key, info: CaInfo { pem: cert.pem(), fingerprint: meta.fingerprint }, issuer: cert })
}

/// The names the local CA's server certificate carries: `localhost`, the loopback and LAN
/// addresses, the machine's name and `NAME.local`, and `extra`; sorted, without duplicates.
pub fn server_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim().to_ascii_lowercase();
        if !host.is_empty() && host != "localhost" {
            names.push(format!("{host}.local"));
            names.push(host);
        }
    }
    if let Ok(ifaces) = if_addrs::get_if_addrs() {
        names.extend(ifaces.iter().filter(|i| !i.is_loopback()).map(|i| i.ip()).filter(|ip| !is_link_local(ip)).map(|ip| ip.to_string()));
    }
    names.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()));
    names.sort();
    names.dedup();
    names
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The server certificate signed by `ca` for `names`: the stored one while it names the same
/// and has more than 30 days left, else a new one (written before it is used).
fn server_cert(dir: &Path, ca: &LocalCa, names: &[String], now: DateTime<Utc>) -> Result<Keycert, String> {
    let (key_path, cert_path, meta_path) = (dir.join("server.key"), dir.join("server.crt"), dir.join("server.json"));
    let stored = std::fs::read_to_string(&meta_path).ok().and_then(|m| serde_json::from_str::<ServerMeta>(&m).ok());
    if let Some(meta) = stored
        && meta.names == names
        && meta.not_after - now > chrono::Duration::days(RENEW_BEFORE_DAYS)
        && let (Ok(cert_pem), Ok(key_pem)) = (std::fs::read_to_string(&cert_path), std::fs::read_to_string(&key_path))
    {
        return Ok(Keycert { cert_pem, key_pem });
    }
    let key = KeyPair::generate().map_err(|e| err("server key", e))?;
    let mut p = CertificateParams::new(names.to_vec()).map_err(|e| err("server names", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.iter().find(|n| n.ends_with(".local")).unwrap_or(&names[0]).clone());
    p.distinguished_name = dn;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let not_after = now + chrono::Duration::days(SERVER_DAYS);
    p.not_before = to_offset(now - chrono::Duration::days(1));
    p.not_after = to_offset(not_after);
    let cert = p.signed_by(&key, &ca.issuer, &ca.key).map_err(|e| err("server certificate", e))?;
    let keycert = Keycert { cert_pem: cert.pem() + &ca.info.pem, key_pem: key.serialize_pem() };
    let meta = serde_json::to_vec_pretty(&ServerMeta { names: names.to_vec(), not_after }).map_err(|e| err("server.json", e))?;
    let write = |p: &Path, b: &[u8], private| write_file(p, b, private).map_err(|e| err(&format!("cannot write {}", p.display()), e));
    write(&key_path, keycert.key_pem.as_bytes(), true)?;
    write(&cert_path, keycert.cert_pem.as_bytes(), false)?;
    write(&meta_path, &meta, false)?;
    tracing::info!(names = ?names, not_after = %not_after, "issued the HTTPS server certificate");
    Ok(keycert)
}

/// The configured names for the certificate: `tls.hosts`, and `NAME.local` when mDNS announces it.
fn hosts(config: &Config) -> Vec<String> {
    let mut hosts = config.tls.hosts.clone();
    if config.mdns.enabled {
        hosts.push(format!("{}.local", config.mdns.name));
    }
    hosts
}

/// HTTPS as configured: the current certificate, and for `local-ca` its CA.
pub struct Tls {
    config: Config,
    /// The local CA (mode `local-ca`).
    pub ca: Option<CaInfo>,
    /// The certificate to serve now.
    pub current: Keycert,
    /// When the files were last seen changed (mode `files`).
    seen: Option<(SystemTime, SystemTime)>,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

impl Tls {
    /// Reads or makes the certificate `config.tls` asks for; `None` when TLS is off.
    pub fn load(config: &Config, now: DateTime<Utc>) -> Result<Option<Self>, String> {
        let t = &config.tls;
        match t.mode {
            TlsMode::Off => Ok(None),
            TlsMode::Files => {
                let current = Keycert { cert_pem: read(&t.cert)?, key_pem: read(&t.key)? };
                let seen = mtime(&t.cert).zip(mtime(&t.key));
                Ok(Some(Self { config: config.clone(), ca: None, current, seen }))
            }
            TlsMode::LocalCa => {
                let dir = tls_dir(&config.data_dir);
                create_private_dir(&dir).map_err(|e| err(&format!("cannot create {}", dir.display()), e))?;
                let ca = local_ca(&dir, &config.school_name, now)?;
                let current = server_cert(&dir, &ca, &server_names(&hosts(config)), now)?;
                Ok(Some(Self { config: config.clone(), ca: Some(ca.info), current, seen: None }))
            }
        }
    }

    /// A new certificate when one is due (`files`: the files changed; `local-ca`: the names
    /// changed or the end is near), else `None`. A failure is logged and the old one kept.
    pub fn refresh(&mut self, now: DateTime<Utc>) -> Option<Keycert> {
        let t = &self.config.tls;
        let next = match t.mode {
            TlsMode::Off => return None,
            TlsMode::Files => {
                let seen = mtime(&t.cert).zip(mtime(&t.key));
                if seen == self.seen {
                    return None;
                }
                self.seen = seen;
                read(&t.cert).and_then(|cert_pem| Ok(Keycert { cert_pem, key_pem: read(&t.key)? }))
            }
            TlsMode::LocalCa => {
                let dir = tls_dir(&self.config.data_dir);
                local_ca(&dir, &self.config.school_name, now)
                    .and_then(|ca| server_cert(&dir, &ca, &server_names(&hosts(&self.config)), now))
            }
        };
        match next {
            Ok(k) if k != self.current => {
                self.current = k.clone();
                Some(k)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "could not renew the HTTPS certificate; serving the current one");
                None
            }
        }
    }

    /// How often [`Tls::refresh`] should run.
    pub fn refresh_every(&self) -> Duration {
        Duration::from_secs(self.config.tls.reload_secs.max(1))
    }
}

/// The local CA certificate of a data directory, if HTTPS runs with `local-ca` (for `/ca.crt`).
pub fn ca_pem(config: &Config) -> Option<String> {
    if config.tls.mode != TlsMode::LocalCa {
        return None;
    }
    std::fs::read_to_string(tls_dir(&config.data_dir).join("ca.crt")).ok()
}

/// The local CA with its fingerprint (for the connect page), if HTTPS runs with `local-ca`.
pub fn ca_info(config: &Config) -> Option<CaInfo> {
    use base64::Engine;
    let pem = ca_pem(config)?;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(CaInfo { fingerprint: fingerprint(&der), pem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let mut c = Config { data_dir: dir.to_path_buf(), ..Config::default() };
        c.tls.mode = TlsMode::LocalCa;
        c.tls.hosts = vec!["friend.school.lan".into()];
        c
    }

    #[test]
    fn the_local_ca_is_made_once_and_the_server_certificate_renewed_before_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut tls = Tls::load(&config(dir.path()), now).unwrap().unwrap();
        let ca = tls.ca.clone().unwrap();
        assert_eq!(ca.fingerprint.len(), 32 * 3 - 1);
        assert!(ca.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        // A restart keeps the CA and the certificate.
        let again = Tls::load(&config(dir.path()), now).unwrap().unwrap();
        assert_eq!((again.ca.unwrap().fingerprint, &again.current), (ca.fingerprint.clone(), &tls.current));
        assert_eq!(tls.refresh(now + chrono::Duration::days(300)), None, "65 days left: kept");
        let renewed = tls.refresh(now + chrono::Duration::days(340)).expect("25 days left: renewed");
        assert_ne!(renewed.cert_pem, again.current.cert_pem);
        assert!(renewed.cert_pem.ends_with(&ca.pem), "the chain ends with the same CA");
        assert_eq!(ca_pem(&config(dir.path())).unwrap(), ca.pem);
        assert_eq!(ca_info(&config(dir.path())).unwrap().fingerprint, ca.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |n: &str| std::fs::metadata(dir.path().join("tls").join(n)).unwrap().permissions().mode() & 0o777;
            assert_eq!((mode("ca.key"), mode("server.key")), (0o600, 0o600));
        }
    }

    #[test]
    fn names_cover_localhost_loopback_and_the_configured_hosts() {
        let names = server_names(&[" Friend.School.LAN ".into()]);
        for n in ["localhost", "127.0.0.1", "::1", "friend.school.lan"] {
            assert!(names.contains(&n.to_string()), "{n} in {names:?}");
        }
    }
}
