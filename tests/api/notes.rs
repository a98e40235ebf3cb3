//! Notes: CRUD and validation, the visibility matrix over every read path, likes, shares into
//! chats, full-text search (ranking, phrases, prefixes, typos, filters, CJK, highlights) and the
//! search index following edits, deletions and a rebuild.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Resp, Server, User, assert_problem, png, unique};
use crate::ws_support::Ws;

async fn note(s: &Server, u: &User, body: Value) -> String {
    let r = s.post("/api/v1/notes", Some(&u.access), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|i| i["id"].as_str().or(i["note"]["id"].as_str()).unwrap().to_string())
        .collect()
}

/// Searches until `done` holds or a second has passed (edits are searchable within 1 s).
async fn search_until(s: &Server, u: &User, query: &str, done: impl Fn(&[String]) -> bool) -> Resp {
    let path = format!("/api/v1/notes/search?{query}");
    for _ in 0..20 {
        let r = s.get(&path, &u.access).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if done(&ids(&r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.get(&path, &u.access).await
}

async fn search(s: &Server, u: &User, query: &str) -> Vec<String> {
    let r = s.get(&format!("/api/v1/notes/search?{query}"), &u.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    ids(&r)
}

#[tokio::test]
async fn notes_are_written_read_edited_and_deleted_with_clear_errors() {
    let s = Server::start().await;
    let a = s.register().await;
    let r = s
        .post(
            "/api/v1/notes",
            Some(&a.access),
            json!({"title": "  Krebs cycle ", "content": "# Steps\n\n1. **Citrate** forms\n2. See [the book](http://x.test)", "tags": [" #Biology", "biology", "Cell  Cycle"], "visibility": "friends"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let n = &r.body;
    assert_eq!(n["title"], "Krebs cycle");
    assert_eq!(n["tags"], json!(["biology", "cell-cycle"]));
    assert_eq!(n["preview"], "Steps Citrate forms See the book");
    assert_eq!(n["content"], "# Steps\n\n1. **Citrate** forms\n2. See [the book](http://x.test)", "Markdown kept as written");
    assert_eq!((n["likes_count"].as_u64(), n["shares_count"].as_u64(), n["liked_by_me"].as_bool()), (Some(0), Some(0), Some(false)));
    assert_eq!(n["author"]["id"], a.id.as_str());
    let id = n["id"].as_str().unwrap();
    let private = note(&s, &a, json!({"title": "Diary"})).await;
    assert_eq!(s.get(&format!("/api/v1/notes/{private}"), &a.access).await.body["visibility"], "private", "private by default");

    let p = s.patch(&format!("/api/v1/notes/{id}"), &a.access, json!({"title": "Krebs cycle (TCA)", "tags": []})).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!((p.body["title"].as_str(), p.body["tags"].as_array().map(Vec::len)), (Some("Krebs cycle (TCA)"), Some(0)));
    assert_eq!(p.body["content"], n["content"], "a patch keeps what it does not name");

    let bad = s
        .post(
            "/api/v1/notes",
            Some(&a.access),
            json!({"title": " ", "content": "x".repeat(50_001), "tags": ["ok", "", "t".repeat(33), "a,b"], "attachment_ids": ["0190f3c1-0000-7000-8000-000000000000"]}),
        )
        .await;
    assert_problem(&bad, 422, "validation_failed");
    let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["title", "content", "tags[1]", "tags[2]", "tags[3]", "attachment_ids[0]"]);
    let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    assert_eq!(s.post("/api/v1/notes", Some(&a.access), json!({"title": "x", "tags": many})).await.body["errors"][0]["field"], "tags");
    assert_problem(
        &s.post("/api/v1/notes", Some(&a.access), json!({"title": "x", "visibility": "school"})).await,
        422,
        "validation_failed",
    );
    assert_problem(&s.post("/api/v1/notes", Some(&a.access), json!({"title": "x", "colour": "red"})).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/notes/not-an-id", &a.access).await, 404, "not_found");
    assert_eq!(s.http.get(s.url(&format!("/api/v1/notes/{id}"))).send().await.unwrap().status(), 401);

    assert_eq!(s.delete(&format!("/api/v1/notes/{id}"), &a.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/notes/{id}"), &a.access).await, 404, "not_found");
    assert_problem(&s.patch(&format!("/api/v1/notes/{id}"), &a.access, json!({"title": "back"})).await, 404, "not_found");
    assert_problem(&s.delete(&format!("/api/v1/notes/{id}"), &a.access, None).await, 404, "not_found");
    assert_eq!(ids(&s.get("/api/v1/notes", &a.access).await), vec![private.clone()], "gone from the author's list");
}

#[tokio::test]
async fn visibility_holds_for_every_reader_and_every_read_path() {
    let s = Server::start().await;
    let (a, friend, stranger, blocked) = (s.register().await, s.register().await, s.register().await, s.register().await);
    let moderator = s.staff(friend::model::Role::Moderator).await;
    s.befriend(&a, &friend).await;
    s.befriend(&a, &blocked).await;
    assert_eq!(s.post("/api/v1/blocks", Some(&a.access), json!({"user_id": blocked.id})).await.status, 201);
    let upload =
        Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&a.access).header("content-type", "image/png").body(png(8, 8)))
            .await;
    assert_eq!(upload.status, 201, "{}", upload.body);
    let media = upload.body["id"].as_str().unwrap().to_string();
    let private = note(&s, &a, json!({"title": "zebra private", "visibility": "private"})).await;
    let friends = note(&s, &a, json!({"title": "zebra friends", "visibility": "friends", "attachment_ids": [media]})).await;
    let public = note(&s, &a, json!({"title": "zebra public", "visibility": "public"})).await;
    let all = [&private, &friends, &public];

    // (reader, which of private/friends/public they may read)
    let cases: [(&User, [bool; 3]); 5] = [
        (&a, [true, true, true]),
        (&friend, [false, true, true]),
        (&stranger, [false, false, true]),
        (&blocked, [false, false, false]),
        (&moderator, [false, true, true]),
    ];
    for (who, may) in cases {
        for (n, ok) in all.iter().zip(may) {
            let r = s.get(&format!("/api/v1/notes/{n}"), &who.access).await;
            assert_eq!(r.status, if ok { 200 } else { 404 }, "GET note {n} as {}", who.username);
        }
        let media_status = s.http.get(s.url(&format!("/api/v1/media/{media}"))).bearer_auth(&who.access).send().await.unwrap().status();
        assert_eq!(media_status, if may[1] { 200 } else { 404 }, "attachment as {}", who.username);
    }
    // Lists, feed and search: a moderator sees what any stranger sees.
    let listed = [(&a, 3), (&friend, 2), (&stranger, 1), (&moderator, 1)];
    for (who, n) in listed {
        let list = s.get(&format!("/api/v1/notes?author={}", a.id), &who.access).await;
        assert_eq!(ids(&list).len(), n, "list as {}", who.username);
        let feed = s.get("/api/v1/notes/feed", &who.access).await;
        assert_eq!(
            ids(&feed).len(),
            if who.id == a.id { 2 } else { n },
            "feed as {} (own private notes are not in the feed)",
            who.username
        );
        assert_eq!(ids(&search_until(&s, who, "q=zebra", |ids| ids.len() >= n).await).len(), n, "search as {}", who.username);
    }
    assert_problem(&s.get(&format!("/api/v1/notes?author={}", a.id), &blocked.access).await, 404, "not_found");
    assert!(ids(&s.get("/api/v1/notes/feed", &blocked.access).await).is_empty());
    assert!(search(&s, &blocked, "q=zebra").await.is_empty(), "blocked: nothing in search");
    assert!(search(&s, &a, &format!("q=zebra&author={}", blocked.id)).await.is_empty());

    // Others cannot change a note they can read.
    assert_problem(&s.patch(&format!("/api/v1/notes/{public}"), &friend.access, json!({"title": "mine"})).await, 403, "forbidden");
    assert_problem(&s.delete(&format!("/api/v1/notes/{public}"), &moderator.access, None).await, 403, "forbidden");
    assert_problem(&s.patch(&format!("/api/v1/notes/{private}"), &friend.access, json!({"title": "mine"})).await, 404, "not_found");
    // Unfriending takes friends-only notes away at once, search included.
    assert_eq!(s.delete(&format!("/api/v1/friends/{}", a.id), &friend.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/notes/{friends}"), &friend.access).await, 404, "not_found");
    assert_eq!(search(&s, &friend, "q=zebra").await, vec![public.clone()]);
    // Only the author's uploads can be attached.
    let theirs = s.post("/api/v1/notes", Some(&friend.access), json!({"title": "x", "attachment_ids": [media]})).await;
    assert_eq!(theirs.body["errors"][0]["field"], "attachment_ids[0]");
}

#[tokio::test]
async fn likes_are_idempotent_and_exact_under_concurrency() {
    let s = Server::start().await;
    let a = s.register().await;
    let id = note(&s, &a, json!({"title": "Likeable", "visibility": "public"})).await;
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(s.register().await);
    }
    let path = format!("/api/v1/notes/{id}/like");
    let likes = users.iter().flat_map(|u| [u, u]).map(|u| s.post(&path, Some(&u.access), json!({})));
    for r in futures_util::future::join_all(likes).await {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["liked_by_me"], true);
    }
    let n = s.get(&format!("/api/v1/notes/{id}"), &users[0].access).await;
    assert_eq!((n.body["likes_count"].as_u64(), n.body["liked_by_me"].as_bool()), (Some(8), Some(true)), "two likes each count once");
    assert_eq!(s.get(&format!("/api/v1/notes/{id}"), &a.access).await.body["liked_by_me"], false);
    let off = s.delete(&path, &users[0].access, None).await;
    assert_eq!((off.body["likes_count"].as_u64(), off.body["liked_by_me"].as_bool()), (Some(7), Some(false)));
    assert_eq!(s.delete(&path, &users[0].access, None).await.body["likes_count"], 7, "unlike is idempotent too");
    let private = note(&s, &a, json!({"title": "Mine"})).await;
    assert_problem(&s.post(&format!("/api/v1/notes/{private}/like"), Some(&users[0].access), json!({})).await, 404, "not_found");
    let export = s.get("/api/v1/me/export", &users[1].access).await;
    assert_eq!(export.body["notes"]["likes"][0]["note_id"], id.as_str());
    let export = s.get("/api/v1/me/export", &a.access).await;
    assert_eq!(export.body["notes"]["notes"].as_array().unwrap().len(), 2, "the author's notes are in their export");
}

#[tokio::test]
async fn sharing_posts_a_note_message_that_only_readers_can_open() {
    let s = Server::start().await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    s.befriend(&a, &b).await;
    s.befriend(&a, &c).await;
    let friends_note = note(&s, &a, json!({"title": "Shared notes", "visibility": "friends"})).await;
    let group = s.post("/api/v1/chats", Some(&a.access), json!({"type": "group", "name": "Study", "member_ids": [b.id, c.id]})).await;
    assert_eq!(group.status, 201, "{}", group.body);
    let chat = group.body["id"].as_str().unwrap().to_string();

    let r = s.post(&format!("/api/v1/notes/{friends_note}/share"), Some(&b.access), json!({"chat_id": chat})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((r.body["kind"].as_str(), r.body["note_id"].as_str()), (Some("note"), Some(friends_note.as_str())));
    let msgs = s.get(&format!("/api/v1/chats/{chat}/messages"), &c.access).await;
    assert!(msgs.body.as_array().unwrap().iter().any(|m| m["note_id"] == friends_note.as_str()), "{}", msgs.body);
    assert_eq!(s.get(&format!("/api/v1/notes/{friends_note}"), &a.access).await.body["shares_count"], 1);
    // The same over the socket: `message.send` with kind note.
    let (mut wa, mut wb) = (Ws::connect(&s, &a.access).await, Ws::connect(&s, &b.access).await);
    wa.send(json!({"type": "message.send", "chat_id": chat, "client_id": "ws-note", "kind": "note", "note_id": friends_note})).await;
    wa.expect("message.ack").await;
    let got = wb.expect("message.new").await;
    assert_eq!((got["message"]["kind"].as_str(), got["message"]["note_id"].as_str()), (Some("note"), Some(friends_note.as_str())));
    assert_eq!(s.get(&format!("/api/v1/notes/{friends_note}"), &a.access).await.body["shares_count"], 2);
    // c unfriends a: the message stays, the note does not open.
    assert_eq!(s.delete(&format!("/api/v1/friends/{}", a.id), &c.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/notes/{friends_note}"), &c.access).await, 404, "not_found");

    let private = note(&s, &a, json!({"title": "Private"})).await;
    assert_problem(&s.post(&format!("/api/v1/notes/{private}/share"), Some(&b.access), json!({"chat_id": chat})).await, 404, "not_found");
    let forged = s
        .post(&format!("/api/v1/chats/{chat}/messages"), Some(&b.access), json!({"kind": "note", "note_id": private, "client_id": "n1"}))
        .await;
    assert_problem(&forged, 422, "validation_failed");
    assert_eq!(forged.body["errors"][0]["field"], "note_id");
    let outsider = s.register().await;
    assert_problem(
        &s.post(
            &format!("/api/v1/notes/{friends_note}/share"),
            Some(&a.access),
            json!({"chat_id": "0190f3c1-0000-7000-8000-000000000000"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_problem(
        &s.post(&format!("/api/v1/notes/{friends_note}/share"), Some(&outsider.access), json!({"chat_id": chat})).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn the_feed_is_newest_first_and_stable_while_notes_arrive() {
    let s = Server::start().await;
    let (a, b, stranger) = (s.register().await, s.register().await, s.register().await);
    s.befriend(&a, &b).await;
    let mut written = Vec::new();
    for i in 0..5 {
        let vis = if i % 2 == 0 { "friends" } else { "public" };
        written.push(note(&s, &a, json!({"title": format!("note {i}"), "visibility": vis})).await);
    }
    note(&s, &stranger, json!({"title": "stranger friends-only", "visibility": "friends"})).await;
    let first = s.get("/api/v1/notes/feed?limit=2", &b.access).await;
    assert_eq!(ids(&first), vec![written[4].clone(), written[3].clone()]);
    let newer = note(&s, &a, json!({"title": "newer", "visibility": "public"})).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = s.get(&format!("/api/v1/notes/feed?limit=2&cursor={cursor}"), &b.access).await;
    assert_eq!(ids(&second), vec![written[2].clone(), written[1].clone()], "a note written meanwhile does not shift pages");
    let cursor = second.body["next_cursor"].as_str().unwrap();
    let third = s.get(&format!("/api/v1/notes/feed?limit=2&cursor={cursor}"), &b.access).await;
    assert_eq!(ids(&third), vec![written[0].clone()]);
    assert!(third.body["next_cursor"].is_null());
    assert_eq!(ids(&s.get("/api/v1/notes/feed?limit=1", &b.access).await), vec![newer]);
    assert_problem(&s.get("/api/v1/notes/feed?cursor=zzz", &b.access).await, 422, "validation_failed");
    // Lists by tag.
    note(&s, &a, json!({"title": "tagged", "tags": ["Exam"], "visibility": "public"})).await;
    assert_eq!(ids(&s.get(&format!("/api/v1/notes?author={}&tag=exam", a.id), &b.access).await).len(), 1);
}

#[tokio::test]
async fn search_ranks_matches_phrases_prefixes_typos_filters_and_cjk() {
    let s = Server::start().await;
    let (a, b) = (s.register_as(&unique("amelia")).await, s.register_as(&unique("bruno")).await);
    s.befriend(&a, &b).await;
    let body_hit = note(
        &s,
        &a,
        json!({"title": "Cell notes", "content": "All about photosynthesis in leaves and more words here", "visibility": "public"}),
    )
    .await;
    let title_hit = note(
        &s,
        &a,
        json!({"title": "Photosynthesis", "content": "Light and dark reactions", "visibility": "public", "tags": ["biology"]}),
    )
    .await;
    let phrase = note(
        &s,
        &a,
        json!({"title": "Energy", "content": "The Krebs cycle makes ATP. A cycle of Krebs is not a phrase.", "visibility": "friends"}),
    )
    .await;
    let cjk = note(&s, &b, json!({"title": "学习笔记", "content": "今天学习了光合作用。", "visibility": "public"})).await;
    let html =
        note(&s, &b, json!({"title": "Markup", "content": "mitochondria <script>alert(1)</script> mitochondria", "visibility": "public"}))
            .await;

    // Changes reach the index in order: once the last note is searchable, all are.
    search_until(&s, &b, "q=markup%20", |ids| ids.len() == 1).await;
    let r = search_until(&s, &b, "q=photosynthesis%20", |ids| ids.len() == 2).await;
    assert_eq!(ids(&r), vec![title_hit.clone(), body_hit.clone()], "a title hit ranks above a body hit");
    let hl = &r.body["items"][1]["highlights"];
    assert_eq!(hl[0]["field"], "content");
    assert!(hl[0]["snippet"].as_str().unwrap().contains("<mark>photosynthesis</mark>"), "{hl}");
    assert_eq!(search(&s, &b, "q=%22krebs%20cycle%22%20").await, vec![phrase.clone()], "phrase");
    assert!(search(&s, &b, "q=%22cycle%20krebs%22%20").await.iter().all(|id| *id != body_hit), "word order matters in a phrase");
    assert_eq!(search(&s, &b, "q=photosynth").await.len(), 2, "the last word is a prefix while typing");
    assert_eq!(search(&s, &b, "q=photo*%20").await.len(), 2, "explicit prefix");
    assert!(search(&s, &b, "q=photo%20").await.is_empty(), "a finished short word is not a prefix");
    assert_eq!(search(&s, &b, "q=photosynthesys%20").await.len(), 2, "one typo in a long word");
    assert!(search(&s, &b, "q=cel%20").await.is_empty(), "no typo tolerance for short words");
    assert_eq!(search(&s, &b, "q=photosynthesis%20&tag=Biology").await, vec![title_hit.clone()], "tag filter (normalised)");
    assert_eq!(search(&s, &b, &format!("q=&author={}", b.id)).await.len(), 2, "author filter alone");
    assert_eq!(search(&s, &a, &format!("q=photosynthesis%20&author={}", b.id)).await.len(), 0);
    assert_eq!(search(&s, &a, &format!("q={}%20", a.username)).await.len(), 3, "the author's name is searchable");
    assert_eq!(search(&s, &a, "q=%E5%85%89%E5%90%88%E4%BD%9C%E7%94%A8").await, vec![cjk.clone()], "光合作用 without spaces");
    assert_eq!(search(&s, &a, "q=%E5%AD%A6%E4%B9%A0").await, vec![cjk.clone()], "学习");
    assert!(search(&s, &a, "q=%E4%BD%9C%E5%85%89").await.is_empty(), "作光 is not in the text");
    let r = s.get("/api/v1/notes/search?q=mitochondria%20", &a.access).await;
    assert_eq!(ids(&r), vec![html.clone()]);
    let snippet = r.body["items"][0]["highlights"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("&lt;script&gt;") && !snippet.contains("<script>"), "highlights escape the note's text: {snippet}");

    assert_problem(&s.get("/api/v1/notes/search?q=", &a.access).await, 422, "validation_failed");
    assert_problem(&s.get(&format!("/api/v1/notes/search?q={}", "a".repeat(201)), &a.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/notes/search?q=x&author=bob", &a.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/notes/search?q=x&cursor=-1", &a.access).await, 422, "validation_failed");
    let page = s.get("/api/v1/notes/search?q=&author=me&limit=1", &b.access).await;
    assert_eq!(ids(&page).len(), 1);
    let next = page.body["next_cursor"].as_str().unwrap();
    assert_eq!(search(&s, &b, &format!("q=&author=me&limit=1&cursor={next}")).await.len(), 1);
}

#[tokio::test]
async fn edits_and_deletions_reach_search_and_a_lost_index_is_rebuilt() {
    let s = Server::start().await;
    let a = s.register().await;
    let id = note(&s, &a, json!({"title": "Volcanoes", "content": "magma chamber"})).await;
    search_until(&s, &a, "q=magma%20", |ids| ids.len() == 1).await;
    s.patch(&format!("/api/v1/notes/{id}"), &a.access, json!({"content": "tectonic plates"})).await;
    let r = search_until(&s, &a, "q=tectonic%20", |ids| ids.len() == 1).await;
    assert_eq!(ids(&r), vec![id.clone()], "an edit is searchable within a second");
    assert!(search(&s, &a, "q=magma%20").await.is_empty(), "the old text is gone");
    s.patch("/api/v1/me", &a.access, json!({"name": "Vulcan Lava"})).await;
    assert_eq!(search_until(&s, &a, "q=vulcan%20", |ids| ids.len() == 1).await.status, 200);
    assert_eq!(search(&s, &a, "q=vulcan%20").await, vec![id.clone()], "a new author name is searchable");
    let gone = note(&s, &a, json!({"title": "Temporary tectonic"})).await;
    search_until(&s, &a, "q=tectonic%20", |ids| ids.len() == 2).await;
    s.delete(&format!("/api/v1/notes/{gone}"), &a.access, None).await;
    assert_eq!(ids(&search_until(&s, &a, "q=tectonic%20", |ids| ids.len() == 1).await), vec![id.clone()], "deleted: gone from search");

    let dir = s.stop().await;
    std::fs::remove_dir_all(dir.path().join("search").join("notes")).unwrap();
    let s = Server::start_in(dir, |_| {}).await;
    let a = s.login(&a.username, &a.password).await;
    let r = search_until(&s, &a, "q=tectonic%20", |ids| ids.len() == 1).await;
    assert_eq!(ids(&r), vec![id], "rebuilt from storage on start");

    // A note stored but never committed to the index (as after a crash) is indexed on the next start.
    let dir = s.stop().await;
    {
        let store = friend::store::Store::open(dir.path(), 8).unwrap();
        let now = chrono::Utc::now();
        let lost = friend::store::notes::NoteRecord {
            id: friend::ids::new_id(),
            author_id: a.id.parse().unwrap(),
            title: "Subduction zones".into(),
            content: String::new(),
            tags: vec![],
            visibility: friend::store::notes::Visibility::Private,
            attachment_ids: vec![],
            created_at: now,
            updated_at: now,
            deleted_at: None,
            preview: None,
        };
        friend::store::notes::put(&store, &lost, None).unwrap();
        store.flush_now().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // the store's flush task lets the database go
    let s = Server::start_in(dir, |_| {}).await;
    let a = s.login(&a.username, &a.password).await;
    assert_eq!(search_until(&s, &a, "q=subduction%20", |ids| ids.len() == 1).await.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_deleted_account_takes_its_notes_and_likes_along() {
    let s = Server::start().await;
    let (a, b) = (s.register().await, s.register().await);
    let theirs = note(&s, &a, json!({"title": "Glaciers", "visibility": "public"})).await;
    let mine = note(&s, &b, json!({"title": "Moraine notes", "visibility": "public"})).await;
    s.post(&format!("/api/v1/notes/{mine}/like"), Some(&a.access), json!({})).await;
    search_until(&s, &b, "q=glaciers%20", |ids| ids.len() == 1).await;
    assert_eq!(s.delete("/api/v1/me", &a.access, Some(json!({"password": a.password}))).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/notes/{theirs}"), &b.access).await, 404, "not_found");
    assert_eq!(ids(&s.get("/api/v1/notes/feed", &b.access).await), vec![mine.clone()]);
    assert!(search_until(&s, &b, "q=glaciers%20", |ids| ids.is_empty()).await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(s.get(&format!("/api/v1/notes/{mine}"), &b.access).await.body["likes_count"], 0, "their like is gone");
}

#[tokio::test]
async fn notes_written_at_once_by_many_students_are_all_kept() {
    let s = Server::start().await;
    let mut students = Vec::new();
    for _ in 0..4 {
        students.push(s.register().await);
    }
    // 40 notes at once: they are stored in shared transactions; each answer is its own note.
    let posts = (0..40).map(|i| {
        let (s, u) = (&s, &students[i % 4]);
        async move {
            let body = json!({"title": format!("batch {i}"), "content": format!("note number {i}"), "visibility": "private"});
            let r = s.post("/api/v1/notes", Some(&u.access), body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            assert_eq!(r.body["title"], format!("batch {i}"));
            r.body["id"].as_str().unwrap().to_string()
        }
    });
    let ids: std::collections::HashSet<String> = futures_util::future::join_all(posts).await.into_iter().collect();
    assert_eq!(ids.len(), 40);
    for u in &students {
        let mine = s.get("/api/v1/notes?author=me&limit=100", &u.access).await;
        let titles: Vec<&str> = mine.body["items"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
        assert_eq!(titles.len(), 10, "each student's own ten: {titles:?}");
    }
    // Still there after a restart.
    let first = students[0].clone();
    let dir = s.stop().await;
    let s = Server::start_in(dir, |_| {}).await;
    let again = s.login(&first.username, &first.password).await;
    assert_eq!(s.get("/api/v1/notes?author=me&limit=100", &again.access).await.body["items"].as_array().unwrap().len(), 10);
}
