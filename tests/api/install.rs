//! `install.sh` into a temporary prefix without systemd: idempotent, owner-only data and
//! backups, a hardened unit that `systemd-analyze verify` accepts, a config the binary starts
//! with, and an uninstall that keeps the data unless `--purge`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::{binary, spawn_with};

fn install(prefix: &Path, extra: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("--prefix")
        .arg(prefix)
        .args(["--no-systemd", "--binary"])
        .arg(binary())
        .args(extra)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "install.sh {extra:?} failed: {text}");
    text
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn install_sh_installs_idempotently_into_a_prefix_and_uninstalls() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    let (bin, config, data, backups, unit) = (
        p.join("usr/local/bin/friend"),
        p.join("etc/friend/config.toml"),
        p.join("var/lib/friend"),
        p.join("var/backups/friend"),
        p.join("etc/systemd/system/friend.service"),
    );
    install(p, &[]);
    let secret = |c: &Path| std::fs::read_to_string(c).unwrap().lines().find(|l| l.starts_with("jwt_secret = ")).unwrap().to_string();
    let first_secret = secret(&config);
    assert!(first_secret.len() > 40, "a generated secret: {first_secret}");
    // Again: the same config and secret, the binary replaced.
    install(p, &[]);
    assert_eq!(secret(&config), first_secret);
    assert_eq!((mode(&bin), mode(&config), mode(&data), mode(&backups)), (0o755, 0o640, 0o700, 0o700));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("data_dir = \"{}\"", data.display())), "{text}");
    assert!(text.contains(&format!("dir = \"{}\"", backups.display())), "{text}");

    let u = std::fs::read_to_string(&unit).unwrap();
    for line in ["ProtectSystem=strict", "ProtectHome=true", "NoNewPrivileges=true", "PrivateTmp=true", "CapabilityBoundingSet=\n"] {
        assert!(u.contains(line), "{line:?} missing from the unit:\n{u}");
    }
    assert!(u.contains(&format!("ReadWritePaths={} {}", data.display(), backups.display())), "{u}");
    assert!(u.contains(&format!("ExecStart={} serve", bin.display())), "{u}");
    if let Ok(out) = Command::new("systemd-analyze").arg("verify").arg(&unit).output() {
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success() && !said.contains("friend.service:"), "systemd-analyze verify: {said}");
    }

    // The installed binary starts with the installed configuration.
    let server = spawn_with(&data, &[("FRIEND_CONFIG", config.to_str().unwrap())]);
    assert!(server.startup.iter().any(|l| l.contains("listening on http://")));
    server.terminate();

    // A port below 1024 in the config: the unit gets the one capability to bind it.
    let text = std::fs::read_to_string(&config).unwrap().replace("bind = \"0.0.0.0:8080\"", "bind = \"0.0.0.0:443\"");
    std::fs::write(&config, text).unwrap();
    install(p, &[]);
    assert!(std::fs::read_to_string(&unit).unwrap().contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));

    let said = install(p, &["--uninstall"]);
    assert!(!bin.exists() && !unit.exists(), "{said}");
    assert!(config.exists() && data.exists() && backups.exists(), "uninstall keeps the data: {said}");
    install(p, &["--uninstall", "--purge"]);
    assert!(!config.exists() && !data.exists() && !backups.exists());
}
