//! Login throttling (issue 11, item 4): an attacker behind a school's NAT is slowed to a crawl
//! while the classmates behind the same address, and the attacked student, still sign in.

use serde_json::json;

use crate::support::{Resp, Server};

async fn login_from(s: &Server, address: &str, device: &str, login: &str, password: &str) -> Resp {
    let rb = s.http.post(s.url("/api/v1/auth/login")).header("x-forwarded-for", address).header("user-agent", device);
    Server::finish(rb.json(&json!({"login": login, "password": password}))).await
}

async fn register_from(s: &Server, address: &str, device: &str, name: &str) {
    let body = json!({"email": format!("{name}@school.test"), "username": name, "password": format!("password-{name}"), "name": name});
    let rb = s.http.post(s.url("/api/v1/auth/register")).header("x-forwarded-for", address).header("user-agent", device);
    assert_eq!(Server::finish(rb.json(&body)).await.status, 201);
}

#[tokio::test]
async fn an_attacker_behind_the_school_nat_is_slowed_and_nobody_else_is() {
    let s = Server::start_with(|c| c.http.trust_forwarded_for = true).await;
    let nat = "10.0.0.66";
    register_from(&s, "10.0.0.2", "victim-phone", "victim").await;
    let classmates: Vec<String> = (0..29).map(|i| format!("classmate{i}")).collect();
    for (i, c) in classmates.iter().enumerate() {
        register_from(&s, nat, &format!("phone-{i}"), c).await;
    }

    // 40 guesses from one device, then 40 more from a new User-Agent each, with the e-mail too.
    let mut tried = 0;
    for k in 0..80 {
        let device = if k < 40 { "attacker".to_string() } else { format!("attacker-{k}") };
        let login = if k % 2 == 0 { "victim" } else { "VICTIM@school.test" };
        let r = login_from(&s, nat, &device, login, &format!("guess-{k}")).await;
        match r.status.as_u16() {
            401 => tried += 1,
            429 => assert!(r.headers.get("retry-after").is_some()),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    // 5 from the first device, 5 more until the account is in backoff, then one per minute.
    assert!(tried <= 11, "the attacker tried {tried} passwords");

    for (i, c) in classmates.iter().enumerate() {
        let r = login_from(&s, nat, &format!("phone-{i}"), c, &format!("password-{c}")).await;
        assert_eq!(r.status, 200, "{c}: {}", r.body);
    }
    let r = login_from(&s, "10.0.0.2", "victim-phone", "victim", "password-victim").await;
    assert_eq!(r.status, 200, "the victim's own phone: {}", r.body);
    // A device the victim never used waits for the backoff, then gets in: slowed, not locked out.
    s.clock.advance(chrono::Duration::seconds(61));
    let r = login_from(&s, "10.0.0.3", "victim-laptop", "victim@school.test", "password-victim").await;
    assert_eq!(r.status, 200, "a new device after the backoff: {}", r.body);
}
