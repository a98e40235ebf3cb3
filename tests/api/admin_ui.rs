//! The web admin in a real browser (Debian's chromium driven through chromedriver): the first-admin
//! setup link and every page of the admin (with two-factor sign-in), the connect page, and
//! students turned away.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::spawn;

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn chromedriver() -> Driver {
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
pub(crate) async fn browser_with(driver: &Driver, profile: &std::path::Path, extra: &[&str]) -> Client {
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
pub(crate) async fn wait_text(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
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

pub(crate) async fn fill(c: &Client, form: &str, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        let input = c.find(Locator::Css(&format!("#{form} [name={name}]"))).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    let submit = c.find(Locator::Css(&format!("#{form} button[type=submit]"))).await.unwrap();
    // Centred first, as a person scrolls to it: a bar fixed at the bottom may cover it otherwise.
    c.execute("arguments[0].scrollIntoView({ block: 'center' })", vec![serde_json::to_value(&submit).unwrap()]).await.unwrap();
    submit.click().await.unwrap();
}

/// The admin's pages, as named in the address.
const PAGES: [&str; 9] = ["dashboard", "users", "invites", "moderation", "announcements", "settings", "audit", "backups", "account"];

pub(crate) fn shots_dir() -> std::path::PathBuf {
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Opens a page of the admin through its link in the navigation.
async fn open(c: &Client, page: &str) {
    c.find(Locator::Css(&format!("#nav a[href='#{page}']"))).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !c.find(Locator::Id(&format!("page-{page}"))).await.unwrap().is_displayed().await.unwrap() {
        assert!(Instant::now() < deadline, "page {page} did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Screenshots of the page shown now at phone and laptop width: `admin-{name}-{phone|laptop}{suffix}.png`.
async fn screenshots(c: &Client, name: &str, suffix: &str) {
    for (width, w, h) in [("phone", 390, 844), ("laptop", 1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(shots_dir().join(format!("admin-{name}-{width}{suffix}.png")), c.screenshot().await.unwrap()).unwrap();
    }
    c.set_window_size(1366, 900).await.unwrap();
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Waits until the image at `css` is loaded and drawn.
async fn loaded_image(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let script = format!("const i = document.querySelector('{css}'); return !!i && i.complete && i.naturalWidth > 0");
    while c.execute(&script, vec![]).await.unwrap() != true {
        assert!(Instant::now() < deadline, "the image {css} did not load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Decodes the QR code in a PNG screenshot with an independent decoder (rqrr).
fn read_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("a readable QR code").1
}

#[tokio::test]
async fn staff_run_the_school_from_the_web_admin() {
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
        assert_eq!(wait_text(&c, "#stat-staff", |t| !t.is_empty()).await, "1 (1 admin)");
        assert!(wait_text(&c, "#stat-push", |t| t.starts_with("ok")).await.contains("waiting"));
        // Test servers run without the daily backup; the free disk space shows.
        assert_eq!(wait_text(&c, "#stat-backup", |t| !t.is_empty()).await, "off");
        assert!(wait_text(&c, "#stat-disk", |t| !t.is_empty()).await.ends_with("GB"));
        let (_, auth) = server.post("/api/v1/auth/login", None, json!({"login": "head", "password": "a long password"})).await;
        let admin = auth["access_token"].as_str().unwrap().to_string();

        // Students arrive; the dashboard counts them and draws the server's activity chart.
        let mut students = std::collections::HashMap::new();
        for name in ["kid", "ana", "ben", "carl"] {
            let body = json!({"email": format!("{name}@school.test"), "username": name, "password": format!("{name}-password"), "name": if name == "kid" { "<b>Kid</b>" } else { name }});
            let (status, auth) = server.post("/api/v1/auth/register", None, body).await;
            assert_eq!(status, 201);
            students.insert(name, auth["access_token"].as_str().unwrap().to_string());
        }
        open(&c, "users").await;
        open(&c, "dashboard").await;
        wait_text(&c, "#stat-students", |t| t == "4").await;
        assert_eq!(wait_text(&c, "#stat-today", |t| t == "5").await, "5");
        let loaded: serde_json::Value = c
            .execute("const i = document.getElementById('activity-chart'); return i.complete && i.naturalWidth > 0", vec![])
            .await
            .unwrap();
        assert_eq!(loaded, true, "the activity chart is drawn");
        screenshots(&c, "dashboard", "").await;
        c.execute("document.getElementById('activity-chart').scrollIntoView()", vec![]).await.unwrap();
        std::fs::write(shots_dir().join("admin-dashboard-chart-laptop.png"), c.screenshot().await.unwrap()).unwrap();

        // An invite: its QR code, read by an independent decoder, is the join link.
        open(&c, "invites").await;
        fill(&c, "new-invite", &[("code", "ROOM-7"), ("max_uses", "30")]).await;
        wait_text(&c, "#invites tbody", |t| t.contains("ROOM-7")).await;
        let qr = c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#invite-qr img")).await.unwrap();
        loaded_image(&c, "#invite-qr img").await;
        assert_eq!(read_qr(&qr.screenshot().await.unwrap()), format!("{}/join/ROOM-7", server.base));
        let (_, invites) = server.get("/api/v1/admin/invites", &admin).await;
        assert_eq!((&invites["items"][0]["code"], &invites["items"][0]["max_uses"]), (&json!("ROOM-7"), &json!(30)));
        screenshots(&c, "invites", "").await;

        // Accounts: find, disable, a reset code that works, status filter, sign out everywhere.
        open(&c, "users").await;
        fill(&c, "user-search", &[("q", "kid")]).await;
        let row = wait_text(&c, "#users tbody", |t| t.contains("kid") && t.contains("active")).await;
        assert!(row.contains("<b>Kid</b>"), "names are shown as text, not HTML: {row}");
        c.find(Locator::Css("#users tr[data-username=kid] button[data-action=disable]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#users tbody", |t| t.contains("disabled")).await;
        let (status, body) = server.post("/api/v1/auth/login", None, json!({"login": "kid", "password": "kid-password"})).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("account_disabled")));
        c.find(Locator::Css("#users tr[data-username=kid] button[data-action=reset]")).await.unwrap().click().await.unwrap();
        let said = wait_text(&c, "#message", |t| t.contains("Reset code for kid")).await;
        let code = said.split("kid: ").nth(1).unwrap().split(' ').next().unwrap().to_string();
        let (status, _) =
            server.post("/api/v1/auth/reset", None, json!({"login": "kid", "code": code, "new_password": "kid-new-password"})).await;
        assert_eq!(status, 204, "the code shown in the page works");
        c.find(Locator::Css("#user-search [name=disabled]")).await.unwrap().select_by_value("true").await.unwrap();
        fill(&c, "user-search", &[("q", "")]).await;
        wait_text(&c, "#users tbody", |t| t.contains("kid") && !t.contains("head")).await;
        c.find(Locator::Css("#users tr[data-username=kid] button[data-action=sign-out]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("kid is signed out on every device")).await;

        // A class list imported: the printable sheet shows each student's setup code, which works.
        c.find(Locator::Css("#page-users details summary")).await.unwrap().click().await.unwrap();
        let csv = c.find(Locator::Css("#roster [name=csv]")).await.unwrap();
        csv.send_keys("name,username,class\nDina Roe,dina,7B\nEli Moss,eli,7B\n").await.unwrap();
        c.find(Locator::Id("roster-check")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("2 accounts would be created")).await;
        c.find(Locator::Css("#roster button[type=submit]")).await.unwrap().click().await.unwrap();
        let sheet = wait_text(&c, "#roster-sheet", |t| t.contains("Eli Moss")).await;
        assert!(sheet.contains("Class 7B") && sheet.contains("Username: dina"), "{sheet}");
        let dina_code = sheet.split("Setup code: ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        let set = json!({"login": "dina", "code": dina_code, "new_password": "dina-chose-this"});
        assert_eq!(server.post("/api/v1/auth/reset", None, set).await.0, 204, "the sheet's code works");
        assert_eq!(server.post("/api/v1/auth/login", None, json!({"login": "dina", "password": "dina-chose-this"})).await.0, 200);
        c.execute("document.getElementById('roster-sheet').scrollIntoView()", vec![]).await.unwrap();
        std::fs::write(shots_dir().join("admin-roster-sheet-laptop.png"), c.screenshot().await.unwrap()).unwrap();
        screenshots(&c, "users", "").await;

        // Moderation: a reported message seen in context, deleted; gone from the chat's history.
        let (ana, ben) = (students["ana"].clone(), students["ben"].clone());
        let (_, me_ben) = server.get("/api/v1/me", &ben).await;
        let (_, req) = server.post("/api/v1/friend-requests", Some(&ana), json!({"to_user_id": me_ben["id"]})).await;
        server.post(&format!("/api/v1/friend-requests/{}/accept", req["id"].as_str().unwrap()), Some(&ben), json!({})).await;
        let (_, chat) = server.post("/api/v1/chats", Some(&ana), json!({"type": "private", "user_id": me_ben["id"]})).await;
        let chat = chat["id"].as_str().unwrap().to_string();
        server.post(&format!("/api/v1/chats/{chat}/messages"), Some(&ana), json!({"content": "see you at 4", "client_id": "a1"})).await;
        let (_, bad) = server.post(&format!("/api/v1/chats/{chat}/messages"), Some(&ben), json!({"content": "you are so stupid", "client_id": "b1"})).await;
        let report = json!({"entity_type": "message", "entity_id": bad["id"], "reason": "bullying"});
        assert_eq!(server.post("/api/v1/reports", Some(&ana), report).await.0, 201);
        open(&c, "moderation").await;
        let queued = wait_text(&c, "#reports", |t| t.contains("you are so stupid")).await;
        assert!(queued.contains("see you at 4") && queued.contains("bullying") && queued.contains("reported by ana"), "{queued}");
        screenshots(&c, "moderation", "").await;
        c.find(Locator::Css("#reports .report [data-action=delete_content]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("Report resolved")).await;
        let (_, history) = server.get(&format!("/api/v1/chats/{chat}/messages"), &ana).await;
        let items = history.as_array().unwrap();
        let gone = items.iter().find(|m| m["id"] == bad["id"]).unwrap();
        assert_eq!((&gone["deleted"], &gone["content"]), (&json!(true), &json!("")), "the message is gone from the history");

        // Settings: who may start private chats changes at once.
        let carl = students["carl"].clone();
        let (_, me_ana) = server.get("/api/v1/me", &ana).await;
        let dm = json!({"type": "private", "user_id": me_ana["id"]});
        assert_eq!(server.post("/api/v1/chats", Some(&carl), dm.clone()).await.0, 403, "friends only at first");
        open(&c, "settings").await;
        wait_text(&c, "#settings-changed", |t| !t.is_empty()).await;
        c.find(Locator::Css("#settings [name=dm_policy]")).await.unwrap().select_by_value("anyone").await.unwrap();
        fill(&c, "settings", &[("school_name", "Hill School"), ("school_quiet_hours", "21:30-07:00")]).await;
        wait_text(&c, "#message", |t| t.contains("Settings saved")).await;
        assert_eq!(server.post("/api/v1/chats", Some(&carl), dm).await.0, 201, "anyone may now start a private chat");
        assert!(wait_text(&c, "#settings-changed", |t| t.contains("dm policy")).await.contains("school name"));
        screenshots(&c, "settings", "").await;

        // An announcement to the students; the read count moves when one acknowledges.
        open(&c, "announcements").await;
        c.find(Locator::Css("#new-announcement [name=to]")).await.unwrap().select_by_value("role:student").await.unwrap();
        fill(&c, "new-announcement", &[("title", "Fire drill"), ("body", "Tomorrow at 10:00 in the yard.")]).await;
        wait_text(&c, "#message", |t| t.contains("Announcement sent to 5 people")).await;
        assert!(wait_text(&c, "#announcements tbody", |t| t.contains("Fire drill")).await.contains("0 of 5"));
        let (_, mine) = server.get("/api/v1/announcements", &ana).await;
        let id = mine["items"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(server.post(&format!("/api/v1/announcements/{id}/ack"), Some(&ana), json!({})).await.0, 204);
        open(&c, "dashboard").await;
        open(&c, "announcements").await;
        wait_text(&c, "#announcements tbody", |t| t.contains("1 of 5")).await;
        screenshots(&c, "announcements", "").await;

        // A backup made, verified and downloaded.
        open(&c, "backups").await;
        c.find(Locator::Id("backup-now")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("written and verified")).await;
        wait_text(&c, "#backups tbody", |t| t.contains(" KB")).await;
        c.find(Locator::Css("#backups button[data-action=verify]")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("is whole") && t.contains("checksum verified")).await;
        c.find(Locator::Css("#backups button[data-action=download]")).await.unwrap().click().await.unwrap();
        screenshots(&c, "backups", "").await;

        // Two-factor login turned on in the account page, then used to sign in.
        open(&c, "account").await;
        wait_text(&c, "#tfa-state", |t| t.contains("off")).await;
        fill(&c, "tfa-setup", &[("password", "a long password")]).await;
        let secret = wait_text(&c, "#tfa-secret", |t| !t.is_empty()).await;
        let qr = c.find(Locator::Css("#tfa-qr img")).await.unwrap();
        loaded_image(&c, "#tfa-qr img").await;
        assert!(read_qr(&qr.screenshot().await.unwrap()).starts_with("otpauth://totp/"), "an authenticator app reads the QR code");
        screenshots(&c, "account-setup", "").await;
        fill(&c, "tfa-confirm", &[("code", &crate::support::totp(&secret, unix_now()))]).await;
        let recovery = wait_text(&c, "#tfa-recovery", |t| t.contains("Recovery codes")).await;
        let recovery_code = recovery.lines().find(|l| l.len() == 9 && l.contains('-')).unwrap().trim().to_string();
        assert_eq!(wait_text(&c, "#tfa-state", |t| t.contains("on")).await, "Two-factor login is on (10 recovery codes left).");
        screenshots(&c, "account", "").await;
        c.find(Locator::Id("signout")).await.unwrap().click().await.unwrap();
        wait_text(&c, "#message", |t| t.contains("Signed out")).await;
        fill(&c, "signin", &[("login", "head"), ("password", "a long password")]).await;
        wait_text(&c, "#message", |t| t.contains("6-digit code")).await;
        // The next step's code: the one used to turn it on does not work twice.
        fill(&c, "signin", &[("two_factor_code", &crate::support::totp(&secret, unix_now() + 30))]).await;
        let signed_in = async {
            wait_text(&c, "#who", |t| t.contains("Head Teacher")).await;
        };
        if tokio::time::timeout(Duration::from_secs(10), signed_in).await.is_err() {
            panic!("not signed in: {}", wait_text(&c, "#message", |_| true).await);
        }

        // The audit log shows each of these actions.
        open(&c, "audit").await;
        wait_text(&c, "#audit tbody", |t| {
            [
                "invite.create",
                "user.update",
                "user.reset_code",
                "user.sign_out",
                "user.import",
                "reports.view",
                "report.resolve",
                "settings.update",
                "announcement.create",
                "backup.create",
                "backup.verify",
                "backup.download",
                "user.two_factor_on",
            ]
            .iter()
            .all(|a| t.contains(a))
        })
        .await;
        let change = wait_text(&c, "#audit tr[data-action='settings.update']", |t| t.contains("Hill School")).await;
        assert!(change.contains("school_name: Friend → Hill School") && change.contains("dm_policy: friends_only → anyone"), "{change}");
        screenshots(&c, "audit", "").await;

        // Every page in dark mode, signed in with a recovery code.
        let dark_profile = tempfile::tempdir().unwrap();
        let dark = browser_with(&driver, dark_profile.path(), &["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]).await;
        dark.goto(&format!("{}/admin/", server.base)).await.unwrap();
        fill(&dark, "signin", &[("login", "head"), ("password", "a long password")]).await;
        wait_text(&dark, "#message", |t| t.contains("6-digit code")).await;
        fill(&dark, "signin", &[("two_factor_code", &recovery_code)]).await;
        wait_text(&dark, "#who", |t| t.contains("Head Teacher")).await;
        for page in PAGES {
            open(&dark, page).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            screenshots(&dark, page, "-dark").await;
        }
        dark.close().await.unwrap();

        // The tokens live in the page's memory only: a reload asks to sign in again.
        c.refresh().await.unwrap();
        assert!(c.find(Locator::Css("#signin")).await.unwrap().is_displayed().await.unwrap());
        let stored: serde_json::Value =
            c.execute("return JSON.stringify(sessionStorage) + JSON.stringify(localStorage)", vec![]).await.unwrap();
        assert_eq!(stored, "{}{}", "no token kept in the browser's storage");
        fill(&c, "signin", &[("login", "head"), ("password", "wrong password")]).await;
        wait_text(&c, "#message", |t| t.contains("wrong")).await;
    }
    .await;
    c.close().await.unwrap();
    server.terminate();
    result
}

#[tokio::test]
async fn students_are_turned_away_from_the_web_admin() {
    let data = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let server = spawn(data.path());
    let body = json!({"email": "sam@school.test", "username": "sam", "password": "sam-password", "name": "Sam"});
    assert_eq!(server.post("/api/v1/auth/register", None, body).await.0, 201);
    let driver = chromedriver();
    let c = browser(&driver, profile.path()).await;
    let result = async {
        c.goto(&format!("{}/admin/", server.base)).await.unwrap();
        fill(&c, "signin", &[("login", "sam"), ("password", "sam-password")]).await;
        wait_text(&c, "#message", |t| t.contains("for staff accounts")).await;
        assert!(!c.find(Locator::Id("nav")).await.unwrap().is_displayed().await.unwrap());
        screenshots(&c, "signin-student", "").await;
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
