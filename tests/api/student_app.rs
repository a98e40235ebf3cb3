//! The student app in a real browser: two students in two browsers register with an invite,
//! become friends, chat both ways with typing and read ticks, one goes offline and sends (the
//! message arrives once when it is back), writes a note and finds it, runs the study timer and
//! sees the minutes in the report, gets a notification, and switches to dark mode. Every screen is
//! checked with axe-core (no serious or critical violation) and saved as a screenshot at phone and
//! laptop width, light and dark.

use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::admin_ui::{Driver, browser_with, chromedriver, fill, shots_dir, wait_text};
use crate::support::Server;
use friend::model::Role;

/// chromedriver's network emulation: the browser's offline mode.
#[derive(Debug)]
struct NetworkConditions(bool);

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/chromium/network_conditions", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (salvo::http::Method, Option<String>) {
        let body = json!({"network_conditions": {"offline": self.0, "latency": 0, "download_throughput": -1, "upload_throughput": -1}});
        (salvo::http::Method::POST, Some(body.to_string()))
    }
}

async fn offline(c: &Client, yes: bool) {
    c.issue_cmd(NetworkConditions(yes)).await.expect("chromedriver emulates the network");
}

async fn student(driver: &Driver, profile: &std::path::Path) -> Client {
    let c = browser_with(driver, profile, &[]).await;
    c.set_window_size(390, 844).await.unwrap();
    c
}

async fn nav(c: &Client, route: &str) {
    c.find(Locator::Css(&format!("#nav a[data-route={route}]"))).await.unwrap().click().await.unwrap();
}

async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            let _ = c.execute("arguments[0].scrollIntoView({ block: 'center' })", vec![serde_json::to_value(&e).unwrap()]).await;
            if e.click().await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "nothing to click at {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element at `css`, once it is there.
async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"))
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// Runs axe-core on the page; panics on a serious or critical violation.
async fn accessible(c: &Client, screen: &str) {
    let axe = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node_modules/axe-core/axe.min.js"))
        .expect("axe-core is installed by tests/run.sh");
    c.execute(&format!("{axe}\nreturn true;"), vec![]).await.unwrap();
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ') + ' ' + n.html + ' ' + ((n.any[0] || {}).message || '')).slice(0, 5) }))));";
    let found: Value = c.execute_async(script, vec![]).await.unwrap();
    assert_eq!(found, json!([]), "axe-core on the {screen} screen");
}

/// axe, then screenshots at phone and laptop width.
async fn screen(c: &Client, name: &str, suffix: &str) {
    tokio::time::sleep(Duration::from_millis(400)).await;
    accessible(c, name).await;
    for (width, w, h) in [("phone", 390, 844), ("laptop", 1366, 900)] {
        c.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(shots_dir().join(format!("app-{name}-{width}{suffix}.png")), c.screenshot().await.unwrap()).unwrap();
    }
    c.set_window_size(390, 844).await.unwrap();
}

async fn register(c: &Client, base: &str, name: &str) {
    c.goto(&format!("{base}/?invite=CLASS-7B")).await.unwrap();
    let invite = el(c, "#register [name=invite_code]").await.prop("value").await.unwrap();
    assert_eq!(invite.as_deref(), Some("CLASS-7B"), "the join link fills in the invite code");
    let email = format!("{name}@school.test");
    let password = format!("{name}-password-1");
    fill(c, "register", &[("name", name), ("username", name), ("email", &email), ("password", &password)]).await;
    wait_text(c, "#today-total", |t| t.contains("Studied today")).await;
}

#[tokio::test]
async fn two_students_use_the_app_in_their_browsers() {
    let s = Server::start_with(|c| c.registration = friend::config::Registration::Invite).await;
    let admin = s.staff(Role::Admin).await;
    let r = s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": "CLASS-7B"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let driver = chromedriver();
    let (pa, pb) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = student(&driver, pa.path()).await;
    let b = student(&driver, pb.path()).await;
    let result = async {
        // The sign-in screen, then both register with the class invite.
        a.goto(&s.base).await.unwrap();
        wait_text(&a, "#signin", |_| true).await;
        screen(&a, "signin", "").await;
        a.goto(&format!("{}/?invite=CLASS-7B", s.base)).await.unwrap();
        el(&a, "#register").await;
        screen(&a, "register", "").await;
        register(&a, &s.base, "ana").await;
        register(&b, &s.base, "ben").await;
        screen(&a, "today", "").await;

        // A reload keeps the student signed in (the refresh token), and no token is in the URL.
        a.refresh().await.unwrap();
        wait_text(&a, "#today-total", |t| t.contains("Studied today")).await;
        assert!(!a.current_url().await.unwrap().as_str().contains("token"));

        // Friends: Ana finds Ben as she types and asks; Ben gets a notification and accepts.
        nav(&a, "friends").await;
        el(&a, "#people-search").await.send_keys("be").await.unwrap();
        click(&a, "#people-results li[data-username=ben] button[data-action=add]").await;
        wait_text(&a, "main", |t| t.contains("Your requests")).await;
        screen(&a, "friends", "").await;
        nav(&b, "inbox").await;
        wait_text(&b, "#notifications", |t| t.to_lowercase().contains("ana")).await;
        assert!(wait_text(&b, "#unread", |t| !t.is_empty()).await.parse::<u32>().unwrap() >= 1);
        screen(&b, "inbox", "").await;
        nav(&b, "friends").await;
        click(&b, "#incoming button[data-action=accept]").await;
        wait_text(&b, "#friends", |t| t.contains("ana")).await;

        // Chat both ways: typing shows, ticks turn to read.
        nav(&a, "friends").await;
        click(&a, "#friends li[data-username=ben] button[data-action=message]").await;
        let composer = el(&a, "#composer textarea").await;
        composer.send_keys("hello ben").await.unwrap();
        click(&a, "#composer button[type=submit]").await;
        nav(&b, "chats").await;
        wait_text(&b, "#chat-list", |t| t.contains("ana")).await;
        screen(&b, "chats", "").await;
        click(&b, "#chat-list a").await;
        wait_text(&b, "#messages", |t| t.contains("hello ben")).await;
        wait_text(&a, "#messages li[data-state=read]", |t| t.contains("hello ben")).await;
        el(&b, "#composer textarea").await.send_keys("hi ana").await.unwrap();
        wait_text(&a, "#typing", |t| t.contains("ben is typing")).await;
        click(&b, "#composer button[type=submit]").await;
        wait_text(&a, "#messages", |t| t.contains("hi ana")).await;
        screen(&a, "chat", "").await;

        // Offline: Ana's message waits in her outbox and arrives once when she is back.
        offline(&a, true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let composer = el(&a, "#composer textarea").await;
        composer.send_keys("sent while offline").await.unwrap();
        click(&a, "#composer button[type=submit]").await;
        wait_text(&a, "#messages li.pending", |t| t.contains("sent while offline")).await;
        assert!(a.find(Locator::Id("offline")).await.unwrap().is_displayed().await.unwrap(), "the page says it is offline");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!wait_text(&b, "#messages", |_| true).await.contains("sent while offline"));
        offline(&a, false).await;
        wait_text(&b, "#messages", |t| t.contains("sent while offline")).await;
        wait_text(&a, "#messages", |t| t.contains("sent while offline")).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while count(&a, "#messages li.pending").await > 0 {
            assert!(Instant::now() < deadline, "the outbox empties once the server acknowledges");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let text = wait_text(&b, "#messages", |_| true).await;
        assert_eq!(text.matches("sent while offline").count(), 1, "delivered once: {text}");
        let chat_id = b.current_url().await.unwrap().fragment().unwrap().trim_start_matches("/chats/").to_string();
        let history = s.get(&format!("/api/v1/chats/{chat_id}/messages?limit=50"), &admin.access).await;
        assert_ne!(history.status, 200, "staff do not read chats outside a report");

        // A note, found by search with the match highlighted.
        nav(&a, "notes").await;
        click(&a, "main details.card summary").await;
        el(&a, "#note-editor [name=title]").await;
        el(&a, "#note-editor [name=visibility]").await.select_by_value("friends").await.unwrap();
        el(&a, "#note-editor [name=content]").await.send_keys("# Light\n\nLeaves turn **light** into sugar.\n\n- chlorophyll\n- water").await.unwrap();
        click(&a, "#note-editor details summary").await;
        assert_eq!(wait_text(&a, "#note-editor .preview strong", |t| !t.is_empty()).await, "light", "the preview renders Markdown");
        fill(&a, "note-editor", &[("title", "Photosynthesis")]).await;
        wait_text(&a, "#toast", |t| t.contains("Note saved")).await;
        let q = el(&a, "#note-search [name=q]").await;
        q.send_keys("chlorophyll").await.unwrap();
        click(&a, "#note-search button[type=submit]").await;
        assert!(wait_text(&a, "#note-results mark", |t| !t.is_empty()).await.to_lowercase().contains("chlorophyll"));
        screen(&a, "notes", "").await;
        // Shared to the chat with Ben: it shows there as a note he can open.
        click(&a, "#note-results article button:last-child").await;
        el(&a, ".share-box select").await;
        click(&a, ".share-box button").await;
        wait_text(&a, "#toast", |t| t.contains("Shared")).await;
        el(&b, "#messages a.shared-note").await;

        // A group chat made in the app.
        nav(&a, "chats").await;
        click(&a, "main details.card summary").await;
        el(&a, "#new-group [name=name]").await.send_keys("Biology revision").await.unwrap();
        click(&a, "#new-group input[name=member]").await;
        click(&a, "#new-group button[type=submit]").await;
        el(&a, "#composer textarea").await.send_keys("revision at 5?").await.unwrap();
        click(&a, "#composer button[type=submit]").await;
        nav(&b, "chats").await;
        wait_text(&b, "#chat-list", |t| t.contains("Biology revision") && t.contains("revision at 5?")).await;

        // The study timer: 25 minutes of biology, in today's total and the week's report.
        nav(&a, "today").await;
        el(&a, "#timer [name=subject]").await;
        fill(&a, "timer", &[("subject", "Biology")]).await;
        wait_text(&a, "main", |t| t.contains("Studying Biology")).await;
        s.clock.advance(chrono::Duration::minutes(25));
        click(&a, "#timer-stop").await;
        wait_text(&a, "#today-total", |t| t.contains("25 min")).await;
        nav(&a, "reports").await;
        wait_text(&a, "#report-total", |t| t == "25 min").await;
        let drawn: Value =
            a.execute("const i = document.getElementById('report-chart'); return i.complete && i.naturalWidth > 0", vec![]).await.unwrap();
        assert_eq!(drawn, true, "the report chart is drawn");
        // The same chart the page shows, as the server draws it for Ana.
        let ana = s.login("ana", "ana-password-1").await;
        let this_week = s.http.get(s.url(&format!("/api/v1/reports/weekly/chart.svg?week={}", s.clock.now().format("%G-W%V")))).bearer_auth(&ana.access).send().await.unwrap().text().await.unwrap();
        assert!(this_week.contains("25 min studied"), "the minutes are in the chart");
        screen(&a, "reports", "").await;

        // Settings: which notifications come as a push, quiet hours, a profile photo.
        nav(&a, "settings").await;
        el(&a, "#notification-settings").await;
        screen(&a, "settings", "").await;
        click(&a, "#notification-settings [name='message.push']").await;
        // Time inputs take what the locale shows; set them as a picker would.
        a.execute("const f = document.getElementById('notification-settings'); f.elements.quiet_start.value = '22:00'; f.elements.quiet_end.value = '07:00';", vec![]).await.unwrap();
        click(&a, "#notification-settings button[type=submit]").await;
        wait_text(&a, "#toast", |t| t.contains("Saved")).await;
        let me = s.login("ana", "ana-password-1").await;
        let ns = s.get("/api/v1/me/notification-settings", &me.access).await.body;
        assert_eq!((&ns["message"]["push"], &ns["quiet_hours"]["start"]), (&json!(false), &json!("22:00")), "{ns}");
        let photo = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
        std::fs::write(photo.path(), crate::support::png(64, 64)).unwrap();
        el(&a, "#avatar-file").await.send_keys(photo.path().to_str().unwrap()).await.unwrap();
        el(&a, "#avatar-img").await;
        el(&a, "#theme").await.select_by_value("dark").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while a.execute("return document.documentElement.dataset.theme || ''", vec![]).await.unwrap() != "dark" {
            assert!(Instant::now() < deadline, "the theme switches to dark");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(s.get("/api/v1/me", &me.access).await.body["settings"]["theme"], "dark");
        for route in ["today", "friends", "chats", "notes", "reports", "inbox", "settings"] {
            nav(&a, route).await;
            screen(&a, route, "-dark").await;
        }

        // Offline, the app still opens (the service worker's shell) and shows what was last loaded.
        nav(&a, "today").await;
        wait_text(&a, "#today-total", |t| t.contains("25 min")).await;
        offline(&a, true).await;
        a.refresh().await.unwrap();
        wait_text(&a, "#today-total", |t| t.contains("25 min")).await;
        assert!(el(&a, "#offline").await.is_displayed().await.unwrap(), "the page says it is offline");
        screen(&a, "today-offline", "-dark").await;
        offline(&a, false).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while el(&a, "#offline").await.is_displayed().await.unwrap() {
            assert!(Instant::now() < deadline, "back online, the banner goes");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // Signing out leaves nothing of Ana's on this browser for the next student.
        nav(&a, "settings").await;
        click(&a, "#sign-out").await;
        el(&a, "#signin").await;
        let left: Value = a
            .execute_async(
                "const done = arguments[0]; caches.has('friend-data').then(kept => done([kept, Object.keys(localStorage)]))",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(left, json!([false, []]), "no kept answers, token or outbox after signing out");
    }
    .await;
    a.close().await.unwrap();
    b.close().await.unwrap();
    result
}
