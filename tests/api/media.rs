//! Media: sniffing, re-encoding without metadata, limits, access control, signed URLs, avatars.

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::support::{Resp, Server, assert_problem, contains, jpeg_with_exif, png};

async fn upload_raw(s: &Server, token: &str, ct: &str, bytes: Vec<u8>) -> Resp {
    Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(token).header("content-type", ct).body(bytes)).await
}

async fn fetch(s: &Server, url: &str, token: Option<&str>) -> Resp {
    let mut rb = s.http.get(s.url(url));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    Server::finish(rb).await
}

#[tokio::test]
async fn images_are_reencoded_without_exif_and_get_thumbnails() {
    let s = Server::start().await;
    let u = s.register().await;
    let original = jpeg_with_exif(640, 480);
    assert!(contains(&original, b"SECRET-LOCATION"));
    // Multipart with a misleading name and type: the bytes decide.
    let form = Form::new().part("file", Part::bytes(original).file_name("holiday.txt").mime_str("text/plain").unwrap());
    let r = Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&u.access).multipart(form)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["mime"], "image/jpeg");
    assert_eq!((r.body["width"].as_u64(), r.body["height"].as_u64()), (Some(640), Some(480)));
    let got = fetch(&s, r.body["url"].as_str().unwrap(), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.headers["content-type"], "image/jpeg");
    assert_eq!(got.headers["x-content-type-options"], "nosniff");
    assert!(!contains(&got.bytes, b"SECRET-LOCATION"), "metadata must be stripped");
    assert!(!contains(&got.bytes, b"Exif"), "no EXIF segment");
    assert_eq!(got.bytes.len() as u64, r.body["size"].as_u64().unwrap());
    let thumb = fetch(&s, r.body["thumbnail_url"].as_str().unwrap(), None).await;
    assert_eq!(thumb.status, 200);
    let t = image::load_from_memory(&thumb.bytes).unwrap();
    assert_eq!((t.width(), t.height()), (256, 192));
}

#[tokio::test]
async fn pngs_and_pdfs_are_accepted_others_are_not() {
    let s = Server::start().await;
    let u = s.register().await;
    let r = upload_raw(&s, &u.access, "image/png", png(30, 10)).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["mime"], "image/png");
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let form = Form::new().part("file", Part::bytes(pdf.clone()).file_name("notes \"week\".pdf"));
    let r = Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&u.access).multipart(form)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["mime"], "application/pdf");
    assert!(r.body.get("thumbnail_url").is_none());
    let got = fetch(&s, r.body["url"].as_str().unwrap(), None).await;
    assert_eq!(got.bytes, pdf);
    assert!(got.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    assert_problem(&upload_raw(&s, &u.access, "image/png", svg).await, 415, "unsupported_media_type");
    let mut broken = png(50, 50);
    broken.truncate(60);
    let r = upload_raw(&s, &u.access, "image/png", broken).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "file");
    assert_problem(&upload_raw(&s, &u.access, "image/png", vec![]).await, 422, "validation_failed");
    let form = Form::new().part("other", Part::bytes(png(5, 5)));
    let r = Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&u.access).multipart(form)).await;
    assert_problem(&r, 422, "validation_failed");
    // Nothing was written for the rejected uploads.
    let export = s.get("/api/v1/me/export", &u.access).await;
    assert_eq!(export.body["media"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn uploads_over_the_limit_and_huge_images_are_refused() {
    let s = Server::start_with(|c| {
        c.media.max_upload_bytes = 20_000;
        c.media.max_image_side = 1000;
    })
    .await;
    let u = s.register().await;
    let big = vec![0xFFu8; 30_000];
    assert_problem(&upload_raw(&s, &u.access, "application/octet-stream", big.clone()).await, 413, "payload_too_large");
    let form = Form::new().part("file", Part::bytes(big).file_name("big.bin"));
    let r = Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&u.access).multipart(form)).await;
    assert_problem(&r, 413, "payload_too_large");
    // A small file that claims to be a 5000 px wide image (decompression bomb guard).
    let tall = png(1, 1200);
    assert!(tall.len() < 20_000);
    assert_problem(&upload_raw(&s, &u.access, "image/png", tall).await, 422, "validation_failed");
}

#[tokio::test]
async fn media_is_private_to_its_owner_unless_signed() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    let r = upload_raw(&s, &a.access, "image/png", png(10, 10)).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let plain = format!("/api/v1/media/{id}");
    assert_eq!(fetch(&s, &plain, Some(&a.access)).await.status, 200);
    assert_problem(&fetch(&s, &plain, Some(&b.access)).await, 404, "not_found");
    assert_problem(&fetch(&s, &plain, None).await, 401, "unauthorized");
    let url = r.body["url"].as_str().unwrap().to_string();
    let tampered = url.replace("sig=", "sig=0");
    assert_problem(&fetch(&s, &tampered, None).await, 404, "not_found");
    let thumb_sig_on_full = r.body["thumbnail_url"].as_str().unwrap().replace("&thumb=1", "");
    assert_problem(&fetch(&s, &thumb_sig_on_full, None).await, 404, "not_found");
    s.clock.advance(chrono::Duration::hours(3));
    assert_problem(&fetch(&s, &url, None).await, 404, "not_found");
    assert_problem(&fetch(&s, "/api/v1/media/not-an-id", Some(&a.access)).await, 404, "not_found");
}

#[tokio::test]
async fn avatars_are_visible_to_signed_in_users_and_replace_the_old_one() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    let put = |bytes: Vec<u8>, ct: &'static str| {
        let rb = s.http.put(s.url("/api/v1/me/avatar")).bearer_auth(&a.access).header("content-type", ct).body(bytes);
        Server::finish(rb)
    };
    let first = put(png(64, 64), "image/png").await;
    assert_eq!(first.status, 200, "{}", first.body);
    let url1 = first.body["profile_photo_url"].as_str().unwrap().to_string();
    let profile = s.get(&format!("/api/v1/users/{}", a.id), &b.access).await;
    assert_eq!(profile.body["profile_photo_url"].as_str(), Some(url1.as_str()));
    let id1 = url1.split('?').next().unwrap().to_string();
    assert_eq!(fetch(&s, &id1, Some(&b.access)).await.status, 200, "any signed-in user sees avatars");
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
    assert_problem(&put(pdf, "application/pdf").await, 415, "unsupported_media_type");
    let second = put(jpeg_with_exif(32, 32), "image/jpeg").await;
    assert_eq!(second.status, 200);
    assert_problem(&fetch(&s, &id1, Some(&a.access)).await, 404, "not_found");
    let me: Value = s.get("/api/v1/me", &a.access).await.body;
    assert_eq!(me["profile_photo_url"], second.body["profile_photo_url"]);
}
