//! Uploads: the type is sniffed from the bytes; images are decoded with limits and re-encoded
//! (which drops EXIF/GPS and any trailing data) with a JPEG thumbnail; PDFs are stored as they are.
//! Reads are allowed to the owner, to any signed-in user for avatars, and to holders of a signed URL.
//! A signed URL of an upload names the user it was made for and is checked against what that user
//! may see now: removed from the chat, or the note hidden, and the URL stops working at once.

use std::io::Cursor;

use hmac::{Hmac, Mac};
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use serde::Serialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::access::{Caller, Viewer};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
pub use crate::store::media::MediaPurpose;
use crate::store::media::{self as store, MediaRecord};
use crate::store::users;

/// Longest side of thumbnails, in pixels.
const THUMB_SIDE: u32 = 256;
/// Largest number of frames kept from an animated GIF.
const MAX_GIF_FRAMES: usize = 300;
/// Pixels of all kept GIF frames together (re-encoding costs CPU per pixel); later frames are dropped.
const MAX_GIF_PIXELS: u64 = 32 * 1024 * 1024;

/// A media item as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct MediaView {
    /// Id.
    pub id: Uuid,
    /// Signed, expiring URL usable in `<img src>` without a header, for the user it was shown to
    /// (it stops working when that user loses access).
    pub url: String,
    /// MIME type of the stored bytes.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Image width.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Image height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Signed URL of a JPEG thumbnail (images only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

/// The kinds of file accepted, decided from the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// GIF.
    Gif,
    /// PDF.
    Pdf,
}

/// Decides the type from magic bytes; `None` for anything not accepted.
pub fn sniff(b: &[u8]) -> Option<Sniffed> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Sniffed::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Sniffed::Png)
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(Sniffed::Webp)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some(Sniffed::Gif)
    } else if b.starts_with(b"%PDF-") {
        Some(Sniffed::Pdf)
    } else {
        None
    }
}

struct Processed {
    bytes: Vec<u8>,
    mime: &'static str,
    width: Option<u32>,
    height: Option<u32>,
    thumb: Option<Vec<u8>>,
}

fn undecodable(e: impl std::fmt::Display) -> AppError {
    AppError::field("file", format!("the file could not be read as an image ({e})"))
}

/// What one decode may use: the longest side and the bytes of the decoded pixels.
#[derive(Clone, Copy)]
struct Budget {
    max_side: u32,
    max_bytes: u64,
}

impl Budget {
    fn limits(self) -> Limits {
        let mut l = Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        l.max_alloc = Some(self.max_bytes);
        l
    }

    /// Refuses an image whose decoded pixels would not fit, before anything is decoded.
    fn check(self, width: u32, height: u32, bytes: u64) -> AppResult<()> {
        if bytes > self.max_bytes {
            let mib = self.max_bytes / (1024 * 1024);
            return Err(AppError::field(
                "file",
                format!("the image is too large to process ({width}×{height} pixels need more than {mib} MiB); send a smaller one"),
            ));
        }
        Ok(())
    }
}

fn encode(img: &DynamicImage, format: ImageFormat) -> AppResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            match img {
                DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_) => img.write_with_encoder(enc),
                other => DynamicImage::ImageRgb8(other.to_rgb8()).write_with_encoder(enc),
            }
            .map_err(AppError::internal)?;
        }
        f => img.write_to(&mut out, f).map_err(AppError::internal)?,
    }
    Ok(out.into_inner())
}

fn thumbnail(img: &DynamicImage) -> AppResult<Vec<u8>> {
    encode(&img.thumbnail(THUMB_SIDE, THUMB_SIDE), ImageFormat::Jpeg)
}

/// A still image's decoder, once its header shows that the decoded pixels fit the budget.
fn still_decoder(bytes: &[u8], format: ImageFormat, budget: Budget) -> AppResult<impl ImageDecoder + '_> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    reader.limits(budget.limits());
    let decoder = reader.into_decoder().map_err(undecodable)?;
    let (w, h) = decoder.dimensions();
    budget.check(w, h, decoder.total_bytes())?;
    Ok(decoder)
}

/// A GIF's decoder, once its canvas fits the budget (four frames of RGBA).
fn gif_decoder(bytes: &[u8], budget: Budget) -> AppResult<image::codecs::gif::GifDecoder<Cursor<&[u8]>>> {
    let mut decoder = image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(undecodable)?;
    decoder.set_limits(budget.limits()).map_err(undecodable)?;
    let (w, h) = decoder.dimensions();
    budget.check(w, h, u64::from(w) * u64::from(h) * 4 * 4)?;
    Ok(decoder)
}

/// Reads only the header: refuses an image that would not fit before it waits for a decoder.
fn preflight(bytes: &[u8], budget: Budget) -> AppResult<()> {
    match sniff(bytes) {
        Some(Sniffed::Jpeg) => still_decoder(bytes, ImageFormat::Jpeg, budget).map(drop),
        Some(Sniffed::Png) => still_decoder(bytes, ImageFormat::Png, budget).map(drop),
        Some(Sniffed::Webp) => still_decoder(bytes, ImageFormat::WebP, budget).map(drop),
        Some(Sniffed::Gif) => gif_decoder(bytes, budget).map(drop),
        Some(Sniffed::Pdf) | None => Ok(()),
    }
}

fn process_still(bytes: &[u8], format: ImageFormat, budget: Budget) -> AppResult<Processed> {
    let mut decoder = still_decoder(bytes, format, budget)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    img.apply_orientation(orientation);
    // PNG stays PNG (screenshots, diagrams); JPEG stays JPEG; WebP becomes PNG with alpha, JPEG without.
    let out = match format {
        ImageFormat::Png => ImageFormat::Png,
        ImageFormat::WebP if img.color().has_alpha() => ImageFormat::Png,
        _ => ImageFormat::Jpeg,
    };
    Ok(Processed {
        bytes: encode(&img, out)?,
        mime: if out == ImageFormat::Png { "image/png" } else { "image/jpeg" },
        width: Some(img.width()),
        height: Some(img.height()),
        thumb: Some(thumbnail(&img)?),
    })
}

/// Re-encodes an animated GIF one frame at a time (one decoded frame in memory, plus the
/// decoder's canvas), so the budget holds four frames: a larger canvas is refused. Frames beyond
/// [`MAX_GIF_FRAMES`] or [`MAX_GIF_PIXELS`] are dropped (the animation ends early).
fn process_gif(bytes: &[u8], budget: Budget) -> AppResult<Processed> {
    let decoder = gif_decoder(bytes, budget)?;
    let (w, h) = decoder.dimensions();
    let frame_pixels = u64::from(w) * u64::from(h);
    let mut out = Vec::new();
    let mut thumb = None;
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite).map_err(AppError::internal)?;
        let most = MAX_GIF_FRAMES.min((MAX_GIF_PIXELS / frame_pixels.max(1)).max(1) as usize);
        for f in decoder.into_frames().take(most) {
            let f = f.map_err(undecodable)?;
            if thumb.is_none() {
                thumb = Some(thumbnail(&DynamicImage::ImageRgba8(f.buffer().clone()))?);
            }
            enc.encode_frame(f).map_err(AppError::internal)?;
        }
    }
    let thumb = thumb.ok_or_else(|| undecodable("no frames"))?;
    Ok(Processed { bytes: out, mime: "image/gif", width: Some(w), height: Some(h), thumb: Some(thumb) })
}

fn process(bytes: Vec<u8>, budget: Budget) -> AppResult<Processed> {
    match sniff(&bytes) {
        Some(Sniffed::Jpeg) => process_still(&bytes, ImageFormat::Jpeg, budget),
        Some(Sniffed::Png) => process_still(&bytes, ImageFormat::Png, budget),
        Some(Sniffed::Webp) => process_still(&bytes, ImageFormat::WebP, budget),
        Some(Sniffed::Gif) => process_gif(&bytes, budget),
        Some(Sniffed::Pdf) => Ok(Processed { bytes, mime: "application/pdf", width: None, height: None, thumb: None }),
        None => Err(AppError::UnsupportedMediaType("accepted files are JPEG, PNG, WebP, GIF and PDF".into())),
    }
}

fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | ';')).take(120).collect()
}

/// Stores an upload; `images_only` for avatars. Nothing is written unless the file is accepted.
pub async fn upload(state: &AppState, owner: Uuid, bytes: Vec<u8>, file_name: &str, purpose: MediaPurpose) -> AppResult<MediaRecord> {
    let max = state.config.media.max_upload_bytes;
    if bytes.len() as u64 > max {
        return Err(AppError::PayloadTooLarge(format!("files may be at most {max} bytes")));
    }
    if bytes.is_empty() {
        return Err(AppError::field("file", "the file is empty"));
    }
    if purpose == MediaPurpose::Avatar && matches!(sniff(&bytes), Some(Sniffed::Pdf)) {
        return Err(AppError::UnsupportedMediaType("a profile photo must be a JPEG, PNG, WebP or GIF image".into()));
    }
    let now = state.clock.unix();
    let key = owner.to_string();
    if let Some(wait) = state.uploads.blocked(&key, now) {
        return Err(AppError::RateLimited(wait));
    }
    state.uploads.hit(&key, now);
    check_room(state, owner, bytes.len() as u64)?;
    let cfg = &state.config.media;
    let budget = Budget { max_side: cfg.max_image_side, max_bytes: cfg.max_decoded_mib * 1024 * 1024 };
    preflight(&bytes, budget)?;
    let p = if matches!(sniff(&bytes), Some(Sniffed::Pdf) | None) {
        process(bytes, budget)?
    } else {
        state.images.run(move || process(bytes, budget)).await??
    };
    check_room(state, owner, p.bytes.len() as u64)?;
    let blobs = state.blobs.clone();
    let record = MediaRecord {
        id: crate::ids::new_id(),
        owner_id: owner,
        purpose,
        mime: p.mime.to_string(),
        size: p.bytes.len() as u64,
        sha256: String::new(),
        width: p.width,
        height: p.height,
        thumb_sha256: None,
        file_name: clean_name(file_name),
        created_at: state.clock.now(),
    };
    state
        .store
        .write(move |s| {
            let mut r = record;
            r.sha256 = blobs.put(&p.bytes)?;
            r.thumb_sha256 = p.thumb.as_deref().map(|t| blobs.put(t)).transpose()?;
            store::insert(s, &r)?;
            Ok(r)
        })
        .await
}

/// Refuses `incoming` more bytes from `owner` when the disk is below its floor or the owner's
/// files would pass their quota.
fn check_room(state: &AppState, owner: Uuid, incoming: u64) -> AppResult<()> {
    const MIB: u64 = 1024 * 1024;
    let cfg = &state.config.media;
    if state.blobs.free_space()?.saturating_sub(incoming) < cfg.min_free_mb * MIB {
        tracing::warn!(min_free_mb = cfg.min_free_mb, "the disk is nearly full: uploads are refused");
        return Err(AppError::StorageFull(
            "the server's disk is nearly full, so it accepts no files for now; tell the school's IT staff".into(),
        ));
    }
    if cfg.quota_mb > 0 {
        let used: u64 = store::list_by_owner(&state.store, owner)?.iter().map(|m| m.size).sum();
        if used + incoming > cfg.quota_mb * MIB {
            return Err(AppError::QuotaExceeded(format!(
                "your files would use more than your {} MB; delete some (old attachments, notes' files) and try again",
                cfg.quota_mb
            )));
        }
    }
    Ok(())
}

/// PUT /me/avatar: stores the image and points the profile at it; the previous avatar is removed.
pub async fn set_avatar(state: &AppState, me: Caller, bytes: Vec<u8>) -> AppResult<String> {
    let m = upload(state, me.id(), bytes, "avatar", MediaPurpose::Avatar).await?;
    let (id, now) = (m.id, state.clock.now());
    let orphans = state
        .store
        .write(move |s| {
            let before = users::get(s, me.id())?.and_then(|u| u.avatar_id);
            users::update(s, me.id(), |u| {
                u.avatar_id = Some(id);
                u.updated_at = now;
                Ok(())
            })?;
            match before {
                Some(old) if old != id => store::remove(s, old).or_else(|e| match e {
                    AppError::NotFound(_) => Ok(vec![]),
                    e => Err(e),
                }),
                _ => Ok(vec![]),
            }
        })
        .await?;
    for b in orphans {
        state.blobs.remove(&b);
    }
    Ok(signed_url(state, id, false))
}

/// Deletes an uploaded file (record and bytes) once no message and no note carries it: after its
/// message was deleted, nobody can fetch it any more, not even with a signed URL made before.
/// Called after the delete that unlinked it was stored, so a failure here is logged, not
/// reported: the delete itself happened (and nobody can reach the file through it any more).
pub async fn forget_if_unused(state: &AppState, id: Uuid) {
    if let Err(e) = remove_if_unused(state, id).await {
        tracing::warn!(media = %id, error = %e, "could not delete an unreferenced file; it stays on disk");
    }
}

async fn remove_if_unused(state: &AppState, id: Uuid) -> AppResult<()> {
    let orphans = state
        .store
        .write(move |s| {
            let Some(m) = store::get(s, id)? else { return Ok(vec![]) };
            let used = m.purpose != MediaPurpose::Upload
                || crate::store::chat::media_in_chats(s, id)?
                || !crate::store::notes::notes_with_media(s, id)?.is_empty();
            if used { Ok(vec![]) } else { store::remove(s, id) }
        })
        .await?;
    for b in orphans {
        state.blobs.remove(&b);
    }
    Ok(())
}

/// The signature over a URL's fields; `viewer` is `None` for avatars (readable by anyone signed in).
fn sign(state: &AppState, id: Uuid, thumb: bool, exp: i64, viewer: Option<Uuid>) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.media_key).expect("hmac takes any key");
    match viewer {
        Some(v) => mac.update(format!("{id}|{thumb}|{exp}|{v}").as_bytes()),
        None => mac.update(format!("{id}|{thumb}|{exp}").as_bytes()),
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// When signed URLs made now expire: between `url_ttl_secs` and twice that from now (stable within
/// a window so that clients can cache them).
fn expiry(state: &AppState) -> i64 {
    let ttl = state.config.media.url_ttl_secs.max(60) as i64;
    (state.clock.unix() / ttl + 2) * ttl
}

fn url(state: &AppState, id: Uuid, thumb: bool, viewer: Option<Uuid>) -> String {
    let exp = expiry(state);
    let sig = sign(state, id, thumb, exp, viewer);
    let u = viewer.map(|v| format!("&u={v}")).unwrap_or_default();
    let t = if thumb { "&thumb=1" } else { "" };
    format!("/api/v1/media/{id}?exp={exp}{u}&sig={sig}{t}")
}

/// A signed URL of an avatar (any signed-in user may see avatars, so it names no viewer).
pub fn signed_url(state: &AppState, id: Uuid, thumb: bool) -> String {
    url(state, id, thumb, None)
}

/// A signed URL of a media item for `viewer`: it works while `viewer` may see the item.
pub fn signed_url_for(state: &AppState, id: Uuid, thumb: bool, viewer: Uuid) -> String {
    url(state, id, thumb, Some(viewer))
}

/// Checks a signed URL's signature and expiry; the reader it stands for, if valid.
pub fn check_signature(state: &AppState, id: Uuid, thumb: bool, exp: i64, viewer: Option<Uuid>, sig: &str) -> Option<Reader> {
    (exp >= state.clock.unix() && hmac_eq(&sign(state, id, thumb, exp, viewer), sig)).then_some(Reader::Signed(viewer))
}

fn hmac_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API view of a media record as `viewer` gets it (its URLs are signed for `viewer`).
pub fn view(state: &AppState, m: &MediaRecord, viewer: Uuid) -> MediaView {
    MediaView {
        id: m.id,
        url: signed_url_for(state, m.id, false, viewer),
        mime: m.mime.clone(),
        size: m.size,
        width: m.width,
        height: m.height,
        thumbnail_url: m.thumb_sha256.as_ref().map(|_| signed_url_for(state, m.id, true, viewer)),
    }
}

/// Who asks for a media item.
pub enum Reader {
    /// A signed-in user.
    User(Caller),
    /// A valid signed URL, made for that user (`None`: an avatar's URL).
    Signed(Option<Uuid>),
}

/// True when `viewer` may see `m` now: their own upload, an avatar, or media of a chat they are in
/// or of a note they may read.
fn may_see(state: &AppState, viewer: Viewer, m: &MediaRecord) -> AppResult<bool> {
    Ok(m.owner_id == viewer.id()
        || m.purpose == MediaPurpose::Avatar
        || crate::store::chat::media_visible_in_chats(&state.store, m.id, viewer.id())?
        || super::notes::media_readable(state, viewer, m.id)?)
}

/// The bytes of a media item, if `reader` may see it (404 otherwise, as if absent).
pub fn read(state: &AppState, reader: Reader, id: Uuid, thumb: bool) -> AppResult<(MediaRecord, Vec<u8>)> {
    let m = store::get(&state.store, id)?.ok_or(AppError::NotFound("media"))?;
    let allowed = match reader {
        Reader::Signed(None) => m.purpose == MediaPurpose::Avatar,
        // The holder of the URL gets what its user may see now, as a student (a disabled or
        // deleted account, nothing).
        Reader::Signed(Some(v)) => {
            users::get(&state.store, v)?.is_some_and(|u| !u.disabled && u.deleted_at.is_none()) && may_see(state, Viewer::student(v), &m)?
        }
        Reader::User(u) => may_see(state, u.viewer(), &m)?,
    };
    if !allowed {
        return Err(AppError::NotFound("media"));
    }
    let hash = if thumb { m.thumb_sha256.clone().ok_or(AppError::NotFound("thumbnail"))? } else { m.sha256.clone() };
    let bytes = state.blobs.get(&hash)?;
    Ok((m, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_ignores_names_and_checks_magic() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Sniffed::Jpeg));
        assert_eq!(sniff(b"%PDF-1.7"), Some(Sniffed::Pdf));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Sniffed::Webp));
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\"b;c\n.pdf"), "abc.pdf");
    }
}
