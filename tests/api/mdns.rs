//! mDNS: the server's announcement, seen by an independent mDNS browser (Python's `zeroconf`) on
//! the loopback interface.

use std::process::Command;

use serde_json::Value;

use crate::support::spawn_with;

const BROWSE: &str = r#"
import json, sys, time
from zeroconf import ServiceBrowser, Zeroconf
zc = Zeroconf(interfaces=["127.0.0.1"])
seen = {}
class Listener:
    def add_service(self, zc, ty, name): seen.setdefault(ty, []).append(name)
    def update_service(self, zc, ty, name): pass
    def remove_service(self, zc, ty, name): pass
browsers = [ServiceBrowser(zc, ty, Listener()) for ty in ("_friend._tcp.local.", "_http._tcp.local.")]
deadline = time.time() + 15
while time.time() < deadline and not all(seen.get(t) for t in ("_friend._tcp.local.", "_http._tcp.local.")):
    time.sleep(0.1)
info = zc.get_service_info("_friend._tcp.local.", sys.argv[1] + "._friend._tcp.local.", timeout=5000)
out = {"seen": seen}
if info:
    out.update(port=info.port, server=info.server, addresses=info.parsed_addresses(),
               txt={k.decode(): (v or b"").decode() for k, v in info.properties.items()})
print(json.dumps(out))
zc.close()
"#;

#[tokio::test]
async fn the_server_is_found_by_an_mdns_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_with(
        dir.path(),
        &[
            ("FRIEND_MDNS__ENABLED", "true"),
            ("FRIEND_MDNS__INCLUDE_LOOPBACK", "true"),
            ("FRIEND_MDNS__NAME", "friend-test"),
            ("FRIEND_SCHOOL_NAME", "Hill School"),
        ],
    );
    let out =
        Command::new("python3").args(["-c", BROWSE, "Hill School"]).output().expect("python3 with zeroconf (tests/run.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    let port: u64 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(v["seen"]["_friend._tcp.local."][0], "Hill School._friend._tcp.local.", "{v}");
    assert_eq!(v["seen"]["_http._tcp.local."][0], "Hill School._http._tcp.local.", "{v}");
    assert_eq!(v["port"], port, "{v}");
    assert_eq!(v["server"], "friend-test.local.", "{v}");
    // The addresses are this machine's own (a LAN address, or loopback where there is none).
    let ours = String::from_utf8(Command::new("ip").args(["-o", "addr"]).output().unwrap().stdout).unwrap();
    let addresses = v["addresses"].as_array().unwrap();
    assert!(!addresses.is_empty(), "{v}");
    for a in addresses {
        assert!(ours.contains(&format!(" {}/", a.as_str().unwrap())), "{a} is not an address of this machine: {ours}");
    }
    assert_eq!((v["txt"]["tls"].as_str(), v["txt"]["path"].as_str()), (Some("off"), Some("/")), "{v}");
    server.terminate();
}
