//! Web Push on the wire: which endpoints may be reached (SSRF rules), the VAPID key (RFC 8292),
//! payload encryption (aes128gcm, RFC 8291, by the `web-push` crate) and one HTTP request to a
//! push service (RFC 8030) through a rustls client that follows no redirect, uses no proxy and
//! connects only to addresses the rules allow, checked when it connects (no DNS rebinding).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::RngCore;
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency, VapidSignature, VapidSignatureBuilder, WebPushMessageBuilder,
};

use crate::config::PushConfig;

/// A VAPID token is reused for this long per push service origin (it is valid for 12 hours).
const TOKEN_REUSE_SECS: i64 = 11 * 3600;

/// A new VAPID private key (the raw P-256 scalar, base64url).
pub fn new_vapid_key() -> String {
    loop {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let key = URL_SAFE_NO_PAD.encode(b);
        // A random scalar is out of range with a probability of about 2^-32.
        if VapidSignatureBuilder::from_base64_no_sub(&key).is_ok() {
            return key;
        }
    }
}

/// Where push requests may go: the known push services, and the hosts the school listed.
#[derive(Clone, Debug)]
pub struct HostRules {
    known: Vec<String>,
    allowed: Vec<(String, Option<u16>)>,
}

/// An endpoint the rules accept.
#[derive(Debug)]
pub struct Target {
    /// The parsed URL.
    pub url: reqwest::Url,
    /// `scheme://host[:port]`: the VAPID audience.
    pub origin: String,
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

impl HostRules {
    /// The rules of `push.known_hosts` and `push.allow_hosts`.
    pub fn new(config: &PushConfig) -> Self {
        let allowed = config
            .allow_hosts
            .iter()
            .map(|h| {
                let h = h.trim().to_ascii_lowercase();
                match h.rsplit_once(':').filter(|(host, _)| !host.contains(':') || host.ends_with(']')) {
                    Some((host, port)) if port.parse::<u16>().is_ok() => (host.trim_matches(['[', ']']).to_string(), port.parse().ok()),
                    _ => (h.trim_matches(['[', ']']).to_string(), None),
                }
            })
            .collect();
        Self { known: config.known_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect(), allowed }
    }

    fn listed(&self, host: &str) -> bool {
        self.allowed.iter().any(|(h, _)| h == host)
    }

    fn known(&self, host: &str) -> bool {
        self.known.iter().any(|k| match k.strip_prefix("*.") {
            Some(domain) => host.strip_suffix(domain).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => k == host,
        })
    }

    /// Checks an endpoint; the error says why it is refused.
    pub fn check(&self, endpoint: &str) -> Result<Target, String> {
        let url = reqwest::Url::parse(endpoint).map_err(|_| "must be an absolute URL".to_string())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("must name a host".into()),
        };
        let port = url.port_or_known_default();
        let listed = self.allowed.iter().any(|(h, p)| *h == host && (p.is_none() || *p == port));
        if !listed {
            if url.scheme() != "https" {
                return Err("must be an https URL of a push service".into());
            }
            if !self.known(&host) {
                return Err(format!("{host} is not a known push service (the school can list it in push.allow_hosts)"));
            }
            if port != Some(443) {
                return Err("must use the push service's standard port".into());
            }
            if let Ok(ip) = host.parse::<IpAddr>()
                && !is_public(ip)
            {
                return Err("must not be a private address".into());
            }
        } else if url.scheme() != "https" && url.scheme() != "http" {
            return Err("must be an http or https URL".into());
        }
        let origin = url.origin().ascii_serialization();
        Ok(Target { url, origin })
    }
}

/// What became of Web Push jobs, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tally {
    /// Taken by the push service.
    Sent,
    /// The subscription was gone (404/410) and was removed.
    Gone,
    /// Refused by the push service or by the endpoint rules, dropped.
    Rejected,
    /// Failed for now, tried again later.
    Retried,
    /// Its TTL ran out while failing.
    Expired,
    /// Not sent: the notification was read or removed, or the device unsubscribed.
    Stale,
}

impl Tally {
    const ALL: [Tally; 6] = [Self::Sent, Self::Gone, Self::Rejected, Self::Retried, Self::Expired, Self::Stale];

    fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Gone => "gone",
            Self::Rejected => "rejected",
            Self::Retried => "retried",
            Self::Expired => "expired",
            Self::Stale => "stale",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// Web Push delivery state shared with the metrics and `/readyz`.
pub struct Status {
    queued: Gauge,
    oldest_queued_at: AtomicI64,
    oldest_age: Gauge,
    unreachable_since: Gauge,
    results: Family<ResultLabel, Counter>,
    registry: Registry,
}

impl Default for Status {
    fn default() -> Self {
        let (queued, oldest_age, unreachable_since) = (Gauge::default(), Gauge::default(), Gauge::default());
        let results = Family::<ResultLabel, Counter>::default();
        for r in Tally::ALL {
            drop(results.get_or_create(&ResultLabel { result: r.label() }));
        }
        let mut registry = Registry::default();
        registry.register("friend_webpush", "Web Push jobs by result", results.clone());
        registry.register("friend_webpush_queue", "Web Push jobs waiting (due or backing off)", queued.clone());
        registry.register("friend_webpush_oldest_pending_seconds", "Age of the oldest waiting Web Push job", oldest_age.clone());
        registry.register(
            "friend_webpush_unreachable_since_seconds",
            "Unix time since no push service answers (0: they answer)",
            unreachable_since.clone(),
        );
        Self { queued, oldest_queued_at: AtomicI64::new(0), oldest_age, unreachable_since, results, registry }
    }
}

impl Status {
    /// `delta` jobs were queued (negative: finished).
    pub fn queued(&self, delta: i64) {
        self.queued.inc_by(delta);
    }

    /// Sets the queue depth and the oldest job's queue time (unix seconds) from a full count.
    pub fn census(&self, depth: usize, oldest: Option<i64>) {
        self.queued.set(depth as i64);
        self.oldest_queued_at.store(oldest.unwrap_or(0), Ordering::Relaxed);
    }

    /// Jobs queued.
    pub fn depth(&self) -> i64 {
        self.queued.get().max(0)
    }

    /// Seconds the oldest queued job has waited (0 when none), at `now`.
    pub fn oldest_age(&self, now: i64) -> i64 {
        match self.oldest_queued_at.load(Ordering::Relaxed) {
            0 => 0,
            t => (now - t).max(0),
        }
    }

    /// Counts results.
    pub fn count(&self, r: Tally, n: u64) {
        self.results.get_or_create(&ResultLabel { result: r.label() }).inc_by(n);
    }

    /// A push service answered: returns true when it had been unreachable.
    pub fn reached(&self) -> bool {
        self.unreachable_since.set(0) != 0
    }

    /// No push service answered at `now`: returns true when that is new.
    pub fn unreachable(&self, now: i64) -> bool {
        self.unreachable_since.inner().compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Since when no push service answers (unix seconds).
    pub fn unreachable_since(&self) -> Option<i64> {
        Some(self.unreachable_since.get()).filter(|t| *t != 0)
    }

    /// The metrics, with the oldest job's age taken at `now`.
    pub fn registry(&self, now: i64) -> &Registry {
        self.oldest_age.set(self.oldest_age(now));
        &self.registry
    }
}

/// A push refused by the endpoint rules at connection time.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves host names for the push client, keeping only public addresses unless the host is
/// listed in `push.allow_hosts`: checked at connection time, so a name that changes to a
/// private address after the subscription was accepted is still refused.
struct GuardedResolver {
    rules: Arc<HostRules>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let rules = self.rules.clone();
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = if rules.listed(&host) { found } else { found.into_iter().filter(|a| is_public(a.ip())).collect() };
            if ok.is_empty() {
                return Err(Box::new(Refused(format!("{host} resolves to no public address (list it in push.allow_hosts)"))) as _);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// One push to encrypt and send.
pub struct Push<'a> {
    /// The subscription's endpoint.
    pub endpoint: &'a str,
    /// Its `p256dh` key (base64url).
    pub p256dh: &'a str,
    /// Its `auth` secret (base64url).
    pub auth: &'a str,
    /// The plaintext (JSON).
    pub payload: &'a [u8],
    /// Seconds the push service may keep it.
    pub ttl: u32,
    /// `high` for messages.
    pub urgency: Urgency,
    /// A later push with the same topic replaces this one at the push service.
    pub topic: Option<String>,
}

/// An encrypted request, ready to send.
pub struct Request {
    url: reqwest::Url,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// What became of a request.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The push service took it (2xx).
    Sent,
    /// The subscription is gone (404, 410): forget it.
    Gone,
    /// Refused for good (another 4xx, or a redirect): drop it.
    Rejected(String),
    /// Try again later (429, 5xx, timeout, no connection), after at least `after` if the push
    /// service said so; `unreachable` when no answer came at all.
    Retry {
        /// The push service's `Retry-After`.
        after: Option<Duration>,
        /// Why.
        reason: String,
        /// No answer at all (no route, no connection, timeout).
        unreachable: bool,
    },
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    Some(Duration::from_secs((at.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64))
}

/// The Web Push client: VAPID key, rules and HTTP connections.
pub struct WebPush {
    vapid: PartialVapidSignatureBuilder,
    public_key: String,
    subject: String,
    rules: Arc<HostRules>,
    client: reqwest::Client,
    tokens: Mutex<HashMap<String, (VapidSignature, i64)>>,
}

impl WebPush {
    /// The client for `private_key` (base64url raw P-256 scalar).
    pub fn new(config: &PushConfig, private_key: &str) -> Result<Self, String> {
        let vapid = VapidSignatureBuilder::from_base64_no_sub(private_key)
            .map_err(|_| "push.vapid_private_key is not a base64url P-256 private key".to_string())?;
        let rules = Arc::new(HostRules::new(config));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs.min(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(Arc::new(GuardedResolver { rules: rules.clone() }))
            .user_agent(concat!("friend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("push client: {e}"))?;
        Ok(Self {
            public_key: URL_SAFE_NO_PAD.encode(vapid.get_public_key()),
            vapid,
            subject: config.vapid_subject.clone(),
            rules,
            client,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The VAPID public key (uncompressed P-256 point, base64url): the browser's
    /// `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The endpoint rules.
    pub fn rules(&self) -> &HostRules {
        &self.rules
    }

    fn token(&self, origin: &str, info: &SubscriptionInfo, now: i64) -> Result<VapidSignature, String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((sig, made)) = tokens.get(origin)
            && now - made < TOKEN_REUSE_SECS
        {
            return Ok(sig.clone());
        }
        let mut b = self.vapid.clone().add_sub_info(info);
        b.add_claim("aud", origin);
        b.add_claim("sub", self.subject.as_str());
        let sig = b.build().map_err(|e| format!("VAPID token: {e}"))?;
        tokens.insert(origin.to_string(), (sig.clone(), now));
        Ok(sig)
    }

    /// Checks the endpoint again and encrypts the push (CPU work: call it off the async workers).
    pub fn encrypt(&self, p: &Push, now: i64) -> Result<Request, String> {
        let target = self.rules.check(p.endpoint)?;
        let info = SubscriptionInfo::new(p.endpoint, p.p256dh, p.auth);
        let mut m = WebPushMessageBuilder::new(&info);
        m.set_ttl(p.ttl);
        m.set_urgency(p.urgency);
        if let Some(t) = &p.topic {
            m.set_topic(t.clone());
        }
        m.set_vapid_signature(self.token(&target.origin, &info, now)?);
        m.set_payload(ContentEncoding::Aes128Gcm, p.payload);
        let built = web_push::request_builder::build_request::<Vec<u8>>(m.build().map_err(|e| format!("encrypt: {e}"))?);
        let headers = built.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec())).collect();
        Ok(Request { url: target.url, headers, body: built.into_body() })
    }

    /// Sends one request.
    pub async fn send(&self, r: Request) -> Outcome {
        let mut rb = self.client.post(r.url);
        for (k, v) in r.headers {
            rb = rb.header(k, v);
        }
        match rb.body(r.body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after);
                match status {
                    200..=299 => Outcome::Sent,
                    404 | 410 => Outcome::Gone,
                    429 | 500..=599 => Outcome::Retry { after, reason: format!("push service answered {status}"), unreachable: false },
                    300..=399 => Outcome::Rejected(format!("push service redirected ({status}); redirects are not followed")),
                    _ => Outcome::Rejected(format!("push service answered {status}")),
                }
            }
            Err(e) => {
                let mut cur: &(dyn std::error::Error + 'static) = &e;
                while let Some(next) = cur.source() {
                    if let Some(r) = next.downcast_ref::<Refused>() {
                        return Outcome::Rejected(r.0.clone());
                    }
                    cur = next;
                }
                let reason = if e.is_timeout() { "timed out".to_string() } else { format!("no connection: {cur}") };
                Outcome::Retry { after: None, reason, unreachable: true }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str]) -> HostRules {
        HostRules::new(&PushConfig { allow_hosts: allow.iter().map(|s| s.to_string()).collect(), ..PushConfig::default() })
    }

    #[test]
    fn endpoints_are_checked_against_the_push_services_and_the_school_list() {
        let r = rules(&["127.0.0.1:9000", "push.lan"]);
        assert!(r.check("https://fcm.googleapis.com/fcm/send/abc").is_ok());
        assert!(r.check("https://wns2-par02p.notify.windows.com/w/?token=x").is_ok());
        assert!(r.check("https://notify.windows.com/w").is_err(), "the wildcard is for subdomains");
        assert!(r.check("https://evilnotify.windows.com/w").is_err());
        assert!(r.check("http://fcm.googleapis.com/fcm/send/abc").is_err(), "plain http");
        assert!(r.check("https://fcm.googleapis.com:8443/x").is_err(), "odd port");
        assert!(r.check("https://user:pw@fcm.googleapis.com/x").is_err());
        assert!(r.check("https://example.com/push").is_err(), "unknown host");
        assert!(r.check("https://10.0.0.1/push").is_err());
        assert!(r.check("http://127.0.0.1:9000/push").is_ok(), "listed with its port");
        assert!(r.check("http://127.0.0.1:9001/push").is_err(), "another port");
        assert!(r.check("http://push.lan:8080/x").is_ok(), "listed without a port: any port");
        assert!(r.check("ftp://push.lan/x").is_err());
        assert_eq!(r.check("http://127.0.0.1:9000/push").unwrap().origin, "http://127.0.0.1:9000");
        assert_eq!(r.check("https://fcm.googleapis.com/x").unwrap().origin, "https://fcm.googleapis.com");
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "142.250.1.1", "2a00:1450::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_generated_key_signs() {
        let k = new_vapid_key();
        let wp = WebPush::new(&PushConfig::default(), &k).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(wp.public_key()).unwrap().len(), 65);
    }
}
