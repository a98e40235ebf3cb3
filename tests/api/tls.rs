//! HTTPS in each mode, checked by a real TLS client (rustls through reqwest) that trusts only the
//! CA the server made, for each name and address of the certificate.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::spawn_with;

/// A client that trusts `ca_pem` and nothing else.
fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

fn der_fingerprint(pem: &str) -> String {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn port(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[tokio::test]
async fn local_ca_serves_https_that_a_client_trusting_only_that_ca_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_with(dir.path(), &[("FRIEND_TLS__MODE", "local-ca"), ("FRIEND_TLS__HOSTS", "[\"friend.school.test\"]")]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let ca = std::fs::read_to_string(dir.path().join("tls/ca.crt")).unwrap();
    // The fingerprint printed at start-up is the CA's.
    let fp = der_fingerprint(&ca);
    assert!(server.startup.iter().any(|l| l.contains(&fp)), "fingerprint {fp} not printed: {:?}", server.startup);

    let client = trusting(&ca);
    let p = port(&server.base);
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let r = client.get(format!("https://{host}:{p}/healthz")).send().await;
        // ::1 may be absent on a machine without IPv6; every other name must work.
        if host == "[::1]" && r.as_ref().is_err_and(|e| e.is_connect()) {
            continue;
        }
        let r = r.unwrap_or_else(|e| panic!("https://{host}: {e:?}"));
        assert_eq!(r.status(), 200, "{host}");
    }
    // A configured name (resolved to loopback here) is in the certificate too.
    let named = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .resolve("friend.school.test", format!("127.0.0.1:{p}").parse().unwrap())
        .build()
        .unwrap();
    assert_eq!(named.get(format!("https://friend.school.test:{p}/healthz")).send().await.unwrap().status(), 200);
    // A name the certificate does not carry is refused, and so is a client that does not trust the CA.
    let other = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .resolve("elsewhere.test", format!("127.0.0.1:{p}").parse().unwrap())
        .build()
        .unwrap();
    assert!(other.get(format!("https://elsewhere.test:{p}/healthz")).send().await.is_err());
    let stranger = reqwest::Client::builder().tls_built_in_root_certs(false).build().unwrap();
    assert!(stranger.get(format!("https://localhost:{p}/healthz")).send().await.is_err());
    // Plain HTTP on the HTTPS port gets no answer.
    assert!(!reqwest::get(format!("http://127.0.0.1:{p}/healthz")).await.is_ok_and(|r| r.status().is_success()));

    // /ca.crt serves the same certificate.
    let r = client.get(format!("https://localhost:{p}/ca.crt")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-x509-ca-cert");
    assert_eq!(r.text().await.unwrap(), ca);
    server.terminate();

    // A restart keeps the CA: the same client still connects.
    let again = spawn_with(dir.path(), &[("FRIEND_TLS__MODE", "local-ca"), ("FRIEND_TLS__HOSTS", "[\"friend.school.test\"]")]);
    assert_eq!(std::fs::read_to_string(dir.path().join("tls/ca.crt")).unwrap(), ca);
    let r = client.get(format!("https://localhost:{}/healthz", port(&again.base))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    again.terminate();
}

#[tokio::test]
async fn files_mode_serves_the_given_certificate_and_reloads_it_when_it_changes() {
    // Two local CAs make two certificate pairs to serve from files.
    let make = |dir: &Path| {
        let s = spawn_with(dir, &[("FRIEND_TLS__MODE", "local-ca")]);
        s.terminate();
        let t = dir.join("tls");
        (std::fs::read_to_string(t.join("ca.crt")).unwrap(), t.join("server.crt"), t.join("server.key"))
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ca_a, crt_a, key_a) = make(a.path());
    let (ca_b, crt_b, key_b) = make(b.path());
    let files = tempfile::tempdir().unwrap();
    let (crt, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    std::fs::copy(&crt_a, &crt).unwrap();
    std::fs::copy(&key_a, &key).unwrap();

    let data = tempfile::tempdir().unwrap();
    let server = spawn_with(
        data.path(),
        &[
            ("FRIEND_TLS__MODE", "files"),
            ("FRIEND_TLS__CERT", crt.to_str().unwrap()),
            ("FRIEND_TLS__KEY", key.to_str().unwrap()),
            ("FRIEND_TLS__RELOAD_SECS", "1"),
        ],
    );
    let url = format!("https://localhost:{}/healthz", port(&server.base));
    assert_eq!(trusting(&ca_a).get(&url).send().await.unwrap().status(), 200);
    assert!(trusting(&ca_b).get(&url).send().await.is_err());
    let r = trusting(&ca_a).get(format!("https://localhost:{}/ca.crt", port(&server.base))).send().await.unwrap();
    assert_eq!(r.status(), 404, "no local CA in files mode");

    // New files (key first, then the certificate): the new pair is served without a restart.
    std::fs::copy(&key_b, &key).unwrap();
    std::fs::copy(&crt_b, &crt).unwrap();
    let mut switched = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if trusting(&ca_b).get(&url).send().await.is_ok_and(|r| r.status() == 200) {
            switched = true;
            break;
        }
    }
    assert!(switched, "the changed certificate files were not reloaded");
    server.terminate();

    // The flag sets the mode too (after the file and the environment).
    let out = std::process::Command::new(crate::support::binary())
        .args(["check-config", "--tls-mode", "local-ca"])
        .env("FRIEND_TLS__MODE", "off")
        .output()
        .unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("local-ca"), "{out:?}");

    // A files mode without its files is refused with a message that says what to set.
    let out = std::process::Command::new(crate::support::binary()).arg("check-config").env("FRIEND_TLS__MODE", "files").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.cert and tls.key"));
}
