//! The web admin in a real browser (Debian's chromium driven through chromedriver): the first-admin
//! setup link, the overview, creating an invite, disabling an account, and refusing students.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::spawn;

/// chromedriver on a free port, killed on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let exe = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().find(|p| std::path::Path::new(p).exists());
    let exe = exe.expect("chromedriver is missing: tests/run.sh installs chromium and chromium-driver");
    let child = Command::new(exe).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let driver = Driver(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    browser_with(driver, profile, &[]).await
}

/// Chromium with `extra` command-line switches (e.g. dark mode).
async fn browser_with(driver: &Driver, profile: &std::path::Path, extra: &[&str]) -> Client {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({ "binary": "/usr/bin/chromium", "args": args }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{}", driver.1)).await.expect("chromium starts")
}

/// Waits until the element's text satisfies `ok`; returns the text.
async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && ok(&t)
        {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(c: &Client, form: &str, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = c.find(Locator::Css(&format!("#{form} [name={name}]"))).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    c.find(Locator::Css(&format!("#{form} button[type=submit]"))).await.unwrap().click().await.unwrap();
}

#[tokio::test]
async fn admin_sets_up_manages_invites_and_accounts_in_a_browser() {
    let data = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let server = spawn(data.path());
    let driver = chromedriver();
    let c = browser(&driver, profile.path()).await;
    let result = async {
        // The printed setup link opens the setup form.
        c.goto(server.setup_url.as_deref().unwrap()).await.unwrap();
        fill(&c, "setup", &[("email", "head@school.test"), ("username", "head"), ("name", "Head Teacher"), ("password", "short")]).await;
        // The browser's own validation keeps a short password from being sent.
        assert!(c.find(Locator::Css("#setup")).await.unwrap().is_displayed().await.unwrap());
        fill(&c, "setup", &[("password", "a long password")]).await;
        wait_text(&c, "#who", |t| t.contains("Head Teacher")).await;
        assert_eq!(wait_text(&c, "#stat-users", |t| t == "1").await, "1");
        assert!(wait_text(&c, "#stat-push", |t| t.starts_with("ok")).await.contains("waiting"));
        // Test servers run without the daily backup; the free disk space shows.
        assert_eq!(wait_text(&c, "#stat-backup", |t| t != "–").await, "off");
        assert!(wait_text(&c, "#stat-disk", |t| t != "–").await.ends_with("GB"));
        // Screenshots of the dashboard for a look (target/screenshots), phone and laptop width.
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        for (name, w, h) in [("admin-dashboard-phone", 390, 844), ("admin-dashboard-laptop", 1366, 900)] {
            c.set_window_size(w, h).await.unwrap();
            c.execute("document.getElementById('stat-disk').scrollIntoView()", vec![]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            std::fs::write(shots.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
        }

        // Create an invite through the page; the API sees it.
        fill(&c, "new-invite", &[("code", "ROOM-7"), ("max_uses", "30")]).await;
        wait_text(&c, "#invites tbody", |t| t.contains("ROOM-7")).await;
        let (_, auth) = server.post("/api/v1/auth/login", None, json!({"login": "head", "password": "a long password"})).await;
        let admin = auth["access_token"].as_str().unwrap().to_string();
        let (_, invites) = server.get("/api/v1/admin/invites", &admin).await;
        assert_eq!(invites["items"][0]["code"], "ROOM-7");
        assert_eq!(invites["items"][0]["max_uses"], 30);

        // A student registers; staff find and disable the account in the page.
        let (status, _) = server
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": "kid@school.test", "username": "kid", "password": "kid-password", "name": "<b>Kid</b>"}),
            )
            .await;
        assert_eq!(status, 201);
        fill(&c, "user-search", &[("q", "kid")]).await;
        let row = wait_text(&c, "#users tbody", |t| t.contains("kid") && t.contains("active")).await;
        assert!(row.contains("<b>Kid</b>"), "names are shown as text, not HTML: {row}");
        c.find(Locator::Css("#users tr[data-username=kid] button")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#users tbody", |t| t.contains("disabled")).await;
        let (status, body) = server.post("/api/v1/auth/login", None, json!({"login": "kid", "password": "kid-password"})).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("account_disabled")));

        // A reset code for the student, shown once in the page; it works at POST /auth/reset.
        c.find(Locator::Css("#users tr[data-username=kid] button[data-action=reset]")).await.unwrap().click().await.unwrap();
        let said = wait_text(&c, "#message", |t| t.contains("Reset code for kid")).await;
        let code = said.split("kid: ").nth(1).unwrap().split(' ').next().unwrap().to_string();
        let (status, _) =
            server.post("/api/v1/auth/reset", None, json!({"login": "kid", "code": code, "new_password": "kid-new-password"})).await;
        assert_eq!(status, 204, "the code shown in the page works");

        // Filter the accounts by status; sign the student out everywhere from the page.
        c.find(Locator::Css("#user-search [name=disabled]")).await.unwrap().select_by_value("true").await.unwrap();
        fill(&c, "user-search", &[("q", "")]).await;
        wait_text(&c, "#users tbody", |t| t.contains("kid") && !t.contains("head")).await;
        c.find(Locator::Css("#users tr[data-username=kid] button[data-action=sign-out]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("kid is signed out on every device")).await;

        // An announcement to the students (kid is disabled: only ana gets it), with its read
        // count; a backup made and verified.
        let ana = json!({"email": "ana@school.test", "username": "ana", "password": "ana-password", "name": "Ana"});
        assert_eq!(server.post("/api/v1/auth/register", None, ana).await.0, 201);
        c.find(Locator::Css("#new-announcement [name=to]")).await.unwrap().select_by_value("role:student").await.unwrap();
        fill(&c, "new-announcement", &[("title", "Fire drill"), ("body", "Tomorrow at 10:00 in the yard.")]).await;
        wait_text(&c, "#message", |t| t.contains("Announcement sent to 1 person")).await;
        assert!(wait_text(&c, "#announcements tbody", |t| t.contains("Fire drill")).await.contains("0 of 1"));
        c.find(Locator::Id("backup-now")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("written and verified")).await;
        wait_text(&c, "#backups tbody", |t| t.contains(" KB")).await;
        c.find(Locator::Css("#backups button[data-action=verify]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("is whole") && t.contains("checksum verified")).await;
        for (name, w, h) in [("admin-announcements-backups-phone", 390, 844), ("admin-announcements-backups-laptop", 1366, 900)] {
            c.set_window_size(w, h).await.unwrap();
            c.execute("document.getElementById('announcements-section').scrollIntoView()", vec![]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            std::fs::write(shots.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
        }

        // School settings saved in the page apply at once; the audit log shows who changed what.
        fill(&c, "settings", &[("school_name", "Hill School"), ("school_quiet_hours", "21:30-07:00")]).await;
        wait_text(&c, "#message", |t| t.contains("Settings saved")).await;
        let (_, settings) = server.get("/api/v1/admin/settings", &admin).await;
        assert_eq!((&settings["school_name"], &settings["school_quiet_hours"]), (&json!("Hill School"), &json!("21:30-07:00")));
        assert!(wait_text(&c, "#settings-changed", |t| t.contains("school name")).await.contains("school quiet hours"));
        let change = wait_text(&c, "#audit tr[data-action='settings.update']", |t| t.contains("Hill School")).await;
        assert!(change.contains("school_name: Friend → Hill School") && change.contains("head"), "{change}");
        wait_text(&c, "#audit tbody", |t| {
            ["user.reset_code", "invite.create", "user.update", "user.sign_out", "announcement.create", "backup.create", "backup.verify"]
                .iter()
                .all(|a| t.contains(a))
        })
        .await;
        assert!(wait_text(&c, "#audit tr[data-action='user.reset_code']", |t| !t.is_empty()).await.contains("user kid"));
        for (name, w, h) in [("admin-settings-audit-phone", 390, 844), ("admin-settings-audit-laptop", 1366, 900)] {
            c.set_window_size(w, h).await.unwrap();
            c.execute("document.getElementById('settings-section').scrollIntoView()", vec![]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            std::fs::write(shots.join(format!("{name}.png")), c.screenshot().await.unwrap()).unwrap();
        }
        let dark_profile = tempfile::tempdir().unwrap();
        let dark = browser_with(&driver, dark_profile.path(), &["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]).await;
        dark.goto(&format!("{}/admin/", server.base)).await.unwrap();
        fill(&dark, "signin", &[("login", "head"), ("password", "a long password")]).await;
        wait_text(&dark, "#audit tbody", |t| t.contains("settings.update")).await;
        for (name, w, h) in [("admin-settings-audit-phone-dark", 390, 844), ("admin-settings-audit-laptop-dark", 1366, 900)] {
            dark.set_window_size(w, h).await.unwrap();
            dark.execute("document.getElementById('audit-section').scrollIntoView()", vec![]).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            std::fs::write(shots.join(format!("{name}.png")), dark.screenshot().await.unwrap()).unwrap();
        }
        dark.close().await.unwrap();

        // The tokens live in the page's memory only: a reload asks to sign in again.
        c.refresh().await.unwrap();
        assert!(c.find(Locator::Css("#signin")).await.unwrap().is_displayed().await.unwrap());
        let stored: serde_json::Value =
            c.execute("return JSON.stringify(sessionStorage) + JSON.stringify(localStorage)", vec![]).await.unwrap();
        assert_eq!(stored, "{}{}", "no token kept in the browser's storage");
        fill(&c, "signin", &[("login", "head"), ("password", "a long password")]).await;
        wait_text(&c, "#who", |t| t.contains("Head Teacher")).await;

        // Sign out; a wrong password shows the server's message.
        c.find(Locator::Id("signout")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("Signed out")).await;
        fill(&c, "signin", &[("login", "head"), ("password", "wrong password")]).await;
        wait_text(&c, "#message", |t| t.contains("wrong")).await;
        fill(&c, "signin", &[("password", "a long password")]).await;
        wait_text(&c, "#stat-users", |t| t == "3").await;
    }
    .await;
    c.close().await.unwrap();
    server.terminate();
    result
}

#[tokio::test]
async fn the_connect_page_shows_the_address_the_ca_and_how_to_trust_it() {
    let data = tempfile::tempdir().unwrap();
    let server = crate::support::spawn_with(data.path(), &[("FRIEND_TLS__MODE", "local-ca"), ("FRIEND_SCHOOL_NAME", "Hill <School>")]);
    let fingerprint = server.startup.iter().find_map(|l| l.split("SHA-256 fingerprint: ").nth(1)).unwrap().trim().to_string();
    let driver = chromedriver();
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for (scheme, extra) in [("light", vec![]), ("dark", vec!["--force-dark-mode", "--blink-settings=preferredColorScheme=0"])] {
        let profile = tempfile::tempdir().unwrap();
        // The browser has not trusted the CA yet: that is what the page is for.
        let mut args = vec!["--ignore-certificate-errors"];
        args.extend(extra);
        let c = browser_with(&driver, profile.path(), &args).await;
        async {
            c.goto(&format!("{}/connect", server.base)).await.unwrap();
            assert_eq!(wait_text(&c, "#url", |t| !t.is_empty()).await, server.base);
            assert_eq!(wait_text(&c, "#fingerprint", |t| !t.is_empty()).await, fingerprint);
            assert!(wait_text(&c, "h1", |t| !t.is_empty()).await.contains("Hill <School>"), "the name is text, not markup");
            let href = c.find(Locator::Css("a[href='/ca.crt']")).await.unwrap().attr("download").await.unwrap();
            assert_eq!(href.as_deref(), Some("friend-ca.crt"));
            assert!(c.find(Locator::Css(".qr svg")).await.is_ok());
            for (name, w, h) in [("phone", 390, 844), ("laptop", 1366, 900)] {
                c.set_window_size(w, h).await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
                std::fs::write(shots.join(format!("connect-{name}-{scheme}.png")), c.screenshot().await.unwrap()).unwrap();
            }
        }
        .await;
        c.close().await.unwrap();
    }
    server.terminate();
}
