//! Uploads that cost the server (issue 11, items 2, 3 and 9): images refused from their header
//! before they are decoded, animated GIFs re-encoded a frame at a time, per-user rate and quota,
//! and a free-space floor.

use crate::hostile_images::{gif_bomb, png_bomb};
use crate::support::{Resp, Server, User, assert_problem, png};

async fn upload(s: &Server, u: &User, bytes: Vec<u8>) -> Resp {
    Server::finish(
        s.http.post(s.url("/api/v1/media")).bearer_auth(&u.access).header("content-type", "application/octet-stream").body(bytes),
    )
    .await
}

/// An animated GIF of `frames` frames of 64×48 pixels.
fn animated_gif(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite).unwrap();
        for i in 0..frames {
            let img = image::RgbaImage::from_fn(64, 48, |x, _| image::Rgba([(x * 4) as u8, (i * 80) as u8, 0, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    out
}

#[tokio::test]
async fn hostile_images_are_refused_from_their_header_and_gifs_stay_animated() {
    let s = Server::start().await;
    let u = s.register().await;
    let bomb = png_bomb();
    assert!(bomb.len() < 100_000);
    let r = upload(&s, &u, bomb).await;
    assert_problem(&r, 422, "validation_failed");
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("too large to process"), "{}", r.body);
    let r = upload(&s, &u, gif_bomb()).await;
    assert_problem(&r, 422, "validation_failed");
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("4096×4096"), "{}", r.body);

    // Ordinary images still pass: a photo-sized PNG and an animated GIF, which keeps its frames.
    assert_eq!(upload(&s, &u, png(1600, 1200)).await.status, 201);
    let r = upload(&s, &u, animated_gif(3)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((r.body["mime"].as_str(), r.body["width"].as_u64(), r.body["height"].as_u64()), (Some("image/gif"), Some(64), Some(48)));
    let stored = Server::finish(s.http.get(s.url(r.body["url"].as_str().unwrap()))).await;
    let frames = image::AnimationDecoder::into_frames(image::codecs::gif::GifDecoder::new(std::io::Cursor::new(stored.bytes)).unwrap());
    assert_eq!(frames.count(), 3);
}

#[tokio::test]
async fn uploads_are_rate_limited_per_user_and_kept_within_a_quota() {
    let s = Server::start_with(|c| {
        c.media.uploads_per_hour = 3;
        c.media.quota_mb = 1;
    })
    .await;
    let (a, b) = (s.register().await, s.register().await);
    let pdf = |n: usize| {
        let mut p = b"%PDF-1.4\n".to_vec();
        p.resize(n, b'x');
        p
    };
    assert_eq!(upload(&s, &a, pdf(600_000)).await.status, 201);
    let r = upload(&s, &a, pdf(600_000)).await;
    assert_problem(&r, 507, "quota_exceeded");
    assert_eq!(upload(&s, &a, pdf(300_000)).await.status, 201, "a file that fits is still taken");
    let r = upload(&s, &a, pdf(1_000)).await;
    assert_problem(&r, 429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
    // Another user has their own allowance and quota.
    assert_eq!(upload(&s, &b, pdf(600_000)).await.status, 201);
}

#[tokio::test]
async fn uploads_stop_with_a_clear_error_when_the_disk_is_nearly_full() {
    let s = Server::start_with(|c| c.media.min_free_mb = 1 << 40).await;
    let u = s.register().await;
    let r = upload(&s, &u, png(10, 10)).await;
    assert_problem(&r, 507, "storage_full");
    // Everything else still works: text is not refused because files are.
    assert_eq!(s.patch("/api/v1/me", &u.access, serde_json::json!({"bio": "still here"})).await.status, 200);
}
