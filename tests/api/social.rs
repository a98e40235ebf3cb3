//! Friends, friend requests, blocks, discovery and suggestions.

use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem, unique};

async fn request(s: &Server, from: &User, to: &User) -> crate::support::Resp {
    s.post("/api/v1/friend-requests", Some(&from.access), json!({"to_user_id": to.id})).await
}

async fn befriend(s: &Server, a: &User, b: &User) {
    s.befriend(a, b).await;
}

fn ids(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().or(i["user"]["id"].as_str()).unwrap().to_string()).collect()
}

/// Polls discovery until `check` holds (the index commits within milliseconds).
async fn search_until(s: &Server, u: &User, query: &str, check: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..60 {
        let r = s.get(&format!("/api/v1/users?{query}"), &u.access).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let found = ids(&r.body);
        if check(&found) {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("search for {query} never matched");
}

#[tokio::test]
async fn request_accept_and_unfriend() {
    let s = Server::start().await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    let r = request(&s, &a, &b).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["from_user"]["id"], a.id.as_str());
    assert_eq!(r.body["to_user"]["id"], b.id.as_str());
    assert!(r.body["to_user"].get("email").is_none());
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(ids(&s.get("/api/v1/friend-requests", &b.access).await.body), vec![id.clone()]);
    assert_eq!(ids(&s.get("/api/v1/friend-requests?direction=outgoing", &a.access).await.body), vec![id.clone()]);
    assert!(ids(&s.get("/api/v1/friend-requests", &c.access).await.body).is_empty(), "others see nothing");
    assert_eq!(s.get(&format!("/api/v1/users/{}", b.id), &a.access).await.body["friendship"], "request_sent");
    assert_eq!(s.get(&format!("/api/v1/users/{}", a.id), &b.access).await.body["friendship"], "request_received");

    // Only the recipient answers; strangers learn nothing.
    assert_problem(&s.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&a.access), json!({})).await, 403, "forbidden");
    assert_problem(&s.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&c.access), json!({})).await, 404, "not_found");
    let acc = s.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&b.access), json!({})).await;
    assert_eq!(acc.body["status"], "accepted");
    assert_problem(&s.post(&format!("/api/v1/friend-requests/{id}/reject"), Some(&b.access), json!({})).await, 409, "conflict");

    let fa = s.get("/api/v1/friends", &a.access).await;
    assert_eq!(ids(&fa.body), vec![b.id.clone()]);
    assert_eq!(fa.body["items"][0]["friendship"], "friends");
    assert_eq!(fa.body["items"][0]["is_online"], false);
    assert_eq!(ids(&s.get("/api/v1/friends", &b.access).await.body), vec![a.id.clone()]);
    assert_problem(&request(&s, &b, &a).await, 409, "conflict");

    assert_eq!(s.delete(&format!("/api/v1/friends/{}", b.id), &a.access, None).await.status, 204);
    assert!(ids(&s.get("/api/v1/friends", &b.access).await.body).is_empty(), "unfriend removes both sides");
    assert_problem(&s.delete(&format!("/api/v1/friends/{}", b.id), &a.access, None).await, 404, "not_found");
}

#[tokio::test]
async fn bad_requests_reject_and_withdraw() {
    let s = Server::start().await;
    let (a, b) = (s.register().await, s.register().await);
    assert_problem(&request(&s, &a, &a).await, 422, "validation_failed");
    let r = s.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": "nope"})).await;
    assert_problem(&r, 422, "validation_failed");
    let ghost = s.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": "00000000-0000-7000-8000-000000000000"})).await;
    assert_problem(&ghost, 404, "not_found");
    let first = request(&s, &a, &b).await;
    assert_problem(&request(&s, &a, &b).await, 409, "conflict");
    let id = first.body["id"].as_str().unwrap().to_string();
    assert_problem(&s.delete(&format!("/api/v1/friend-requests/{id}"), &b.access, None).await, 404, "not_found");
    assert_eq!(s.delete(&format!("/api/v1/friend-requests/{id}"), &a.access, None).await.status, 204);
    assert_problem(&s.delete(&format!("/api/v1/friend-requests/{id}"), &a.access, None).await, 409, "conflict");
    assert!(ids(&s.get("/api/v1/friend-requests", &b.access).await.body).is_empty());
    let again = request(&s, &a, &b).await;
    let id2 = again.body["id"].as_str().unwrap();
    let rej = s.post(&format!("/api/v1/friend-requests/{id2}/reject"), Some(&b.access), json!({})).await;
    assert_eq!(rej.body["status"], "rejected");
    assert!(ids(&s.get("/api/v1/friends", &a.access).await.body).is_empty());
    assert_problem(&s.get("/api/v1/friend-requests?direction=sideways", &a.access).await, 422, "validation_failed");
    // Disabled accounts cannot be asked.
    let admin = s.staff(friend::model::Role::Admin).await;
    s.patch(&format!("/api/v1/admin/users/{}", b.id), &admin.access, json!({"disabled": true})).await;
    assert_problem(&request(&s, &a, &b).await, 404, "not_found");
}

#[tokio::test]
async fn crossing_requests_make_exactly_one_friendship() {
    let s = Server::start().await;
    for _ in 0..3 {
        let (a, b) = (s.register().await, s.register().await);
        let (r1, r2) = tokio::join!(request(&s, &a, &b), request(&s, &b, &a));
        assert_eq!((r1.status.as_u16(), r2.status.as_u16()), (201, 201), "{} {}", r1.body, r2.body);
        assert_eq!(ids(&s.get("/api/v1/friends", &a.access).await.body), vec![b.id.clone()]);
        assert_eq!(ids(&s.get("/api/v1/friends", &b.access).await.body), vec![a.id.clone()]);
        for u in [&a, &b] {
            for dir in ["incoming", "outgoing"] {
                assert!(ids(&s.get(&format!("/api/v1/friend-requests?direction={dir}"), &u.access).await.body).is_empty());
            }
        }
    }
    // Many clicks at once: one request.
    let (a, b) = (s.register().await, s.register().await);
    let clicks: Vec<_> = (0..6)
        .map(|_| {
            let (http, url, token, to) = (s.http.clone(), s.url("/api/v1/friend-requests"), a.access.clone(), b.id.clone());
            tokio::spawn(async move {
                http.post(url).bearer_auth(token).json(&json!({"to_user_id": to})).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for c in clicks {
        codes.push(c.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 5, "{codes:?}");
}

#[tokio::test]
async fn blocking_hides_both_ways_and_unblocking_restores_nothing() {
    let s = Server::start().await;
    let name = unique("blockee");
    let (a, b) = (s.register().await, s.register_as(&name).await);
    befriend(&s, &a, &b).await;
    let c = s.register().await;
    request(&s, &c, &a).await;
    let r = s.post("/api/v1/blocks", Some(&a.access), json!({"user_id": b.id})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["user"]["friendship"], "blocked");
    assert_problem(&s.post("/api/v1/blocks", Some(&a.access), json!({"user_id": b.id})).await, 409, "conflict");
    assert_problem(&s.post("/api/v1/blocks", Some(&a.access), json!({"user_id": a.id})).await, 422, "validation_failed");
    assert!(ids(&s.get("/api/v1/friends", &a.access).await.body).is_empty());
    assert!(ids(&s.get("/api/v1/friends", &b.access).await.body).is_empty());
    // The blocked user cannot see, find or befriend the blocker.
    assert_problem(&s.get(&format!("/api/v1/users/{}", a.id), &b.access).await, 404, "not_found");
    assert_problem(&s.get(&format!("/api/v1/users/{}", a.username), &b.access).await, 404, "not_found");
    assert_problem(&request(&s, &b, &a).await, 404, "not_found");
    assert_problem(&request(&s, &a, &b).await, 403, "forbidden");
    search_until(&s, &c, &format!("q={}", a.username), |f| f.contains(&a.id)).await;
    let seen_by_b = s.get(&format!("/api/v1/users?q={}", a.username), &b.access).await;
    assert!(!ids(&seen_by_b.body).contains(&a.id));
    let seen_by_a = s.get(&format!("/api/v1/users?q={name}"), &a.access).await;
    assert!(!ids(&seen_by_a.body).contains(&b.id));
    let blocks = s.get("/api/v1/blocks", &a.access).await;
    assert_eq!(blocks.body["items"][0]["user"]["id"], b.id.as_str());
    // Unblock: visible again, but not friends.
    assert_eq!(s.delete(&format!("/api/v1/blocks/{}", b.id), &a.access, None).await.status, 204);
    assert_problem(&s.delete(&format!("/api/v1/blocks/{}", b.id), &a.access, None).await, 404, "not_found");
    assert_eq!(s.get(&format!("/api/v1/users/{}", a.id), &b.access).await.body["friendship"], "none");
    assert!(ids(&s.get("/api/v1/friends", &a.access).await.body).is_empty());
}

#[tokio::test]
async fn discover_matches_prefixes_typos_and_focus_and_respects_visibility() {
    let s = Server::start().await;
    let me = s.register().await;
    let tag = unique("q");
    let alice = s.register_as(&format!("alice_{tag}")).await;
    s.patch("/api/v1/me", &alice.access, json!({"name": "Alice Martin", "study_focus": "Chemistry"})).await;
    let hidden = s.register_as(&format!("hidden_{tag}")).await;
    s.patch("/api/v1/me", &hidden.access, json!({"name": "Alicia Secret", "profile_visibility": "friends"})).await;
    search_until(&s, &me, "q=martin", |f| f.contains(&alice.id)).await;
    search_until(&s, &me, "q=Mart", |f| f.contains(&alice.id)).await;
    search_until(&s, &me, "q=Martni", |f| f.contains(&alice.id)).await;
    search_until(&s, &me, "study_focus=chemistry", |f| f == vec![alice.id.clone()]).await;
    let secret = search_until(&s, &me, "q=secret", |_| true).await;
    assert!(secret.is_empty(), "friends-only profiles are hidden from strangers");
    befriend(&s, &me, &hidden).await;
    search_until(&s, &me, "q=secret", |f| f == vec![hidden.id.clone()]).await;
    // Renames are followed; disabled accounts disappear.
    s.patch("/api/v1/me", &alice.access, json!({"name": "Zoe Quartz"})).await;
    search_until(&s, &me, "q=quartz", |f| f.contains(&alice.id)).await;
    let admin = s.staff(friend::model::Role::Admin).await;
    s.patch(&format!("/api/v1/admin/users/{}", alice.id), &admin.access, json!({"disabled": true})).await;
    search_until(&s, &me, "q=quartz", |f| !f.contains(&alice.id)).await;
    assert!(!search_until(&s, &me, &format!("q={}", me.username), |_| true).await.contains(&me.id), "never yourself");
    assert_problem(&s.get("/api/v1/users", &me.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/users?q=x&limit=0", &me.access).await, 422, "validation_failed");
}

#[tokio::test]
async fn suggestions_rank_mutual_friends_then_focus() {
    let s = Server::start().await;
    let focus = unique("Focus");
    let (a, b, c, d, e) = (s.register().await, s.register().await, s.register().await, s.register().await, s.register().await);
    let f = s.register().await;
    let blocked = s.register().await;
    befriend(&s, &a, &b).await;
    befriend(&s, &a, &e).await;
    befriend(&s, &b, &c).await;
    befriend(&s, &e, &c).await;
    befriend(&s, &b, &d).await;
    befriend(&s, &b, &blocked).await;
    s.post("/api/v1/blocks", Some(&blocked.access), json!({"user_id": a.id})).await;
    s.patch("/api/v1/me", &a.access, json!({"study_focus": focus})).await;
    s.patch("/api/v1/me", &f.access, json!({"study_focus": focus})).await;
    search_until(&s, &a, &format!("study_focus={focus}"), |r| r.contains(&f.id)).await;
    let r = s.get("/api/v1/users/suggestions", &a.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let got: Vec<(&str, u64)> = items.iter().map(|i| (i["user"]["id"].as_str().unwrap(), i["mutual_friends"].as_u64().unwrap())).collect();
    assert_eq!(got, [(c.id.as_str(), 2), (d.id.as_str(), 1), (f.id.as_str(), 0)]);
    assert_eq!(items[2]["same_focus"], true);
}

#[tokio::test]
async fn export_and_deletion_cover_the_social_graph() {
    let s = Server::start().await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    befriend(&s, &a, &b).await;
    request(&s, &a, &c).await;
    s.post("/api/v1/blocks", Some(&a.access), json!({"user_id": s.register().await.id})).await;
    let e = s.get("/api/v1/me/export", &a.access).await;
    assert_eq!(e.body["social"]["friends"], json!([b.id]));
    assert_eq!(e.body["social"]["friend_requests"].as_array().unwrap().len(), 2);
    assert_eq!(e.body["social"]["blocked_user_ids"].as_array().unwrap().len(), 1);
    assert_eq!(s.delete("/api/v1/me", &a.access, Some(json!({"password": a.password}))).await.status, 204);
    assert!(ids(&s.get("/api/v1/friends", &b.access).await.body).is_empty());
    assert!(ids(&s.get("/api/v1/friend-requests", &c.access).await.body).is_empty());
}
