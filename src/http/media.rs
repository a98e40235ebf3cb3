//! `/api/v1/media`: upload and read files.

use salvo::http::{HeaderValue, header};
use salvo::prelude::*;
use uuid::Uuid;

use super::extract::{bearer_token, me, off_workers, path_id, state};
use super::reply::Created;
use crate::error::{AppError, AppResult};
use crate::service::auth::authenticate;
use crate::service::media::{self as svc, MediaPurpose, MediaView, Reader};
use crate::state::AppState;

/// Reads an upload: multipart field `file`, or the raw body. Returns the bytes and a file name.
pub async fn read_upload(req: &mut Request, st: &AppState) -> AppResult<(Vec<u8>, String)> {
    let max = st.config.media.max_upload_bytes as usize;
    let too_large = || AppError::PayloadTooLarge(format!("files may be at most {max} bytes"));
    let ct = req.header::<String>("content-type").unwrap_or_default().to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let form = req.form_data_max_size(max + 64 * 1024).await.map_err(|e| match e {
            salvo::http::ParseError::PayloadTooLarge => too_large(),
            other => AppError::BadRequest(format!("could not read the form: {other}")),
        })?;
        let file = form.files.get("file").ok_or_else(|| AppError::field("file", "send the file in a multipart field named `file`"))?;
        if file.size() as usize > max {
            return Err(too_large());
        }
        let bytes = tokio::fs::read(file.path()).await.map_err(AppError::internal)?;
        Ok((bytes, file.name().unwrap_or("").to_string()))
    } else {
        let bytes = req.payload_with_max_size(max).await.map_err(|e| match e {
            salvo::http::ParseError::PayloadTooLarge => too_large(),
            other => AppError::BadRequest(format!("could not read the body: {other}")),
        })?;
        // The body may have been read already (Idempotency-Key) with a larger limit.
        if bytes.len() > max {
            return Err(too_large());
        }
        Ok((bytes.to_vec(), String::new()))
    }
}

/// Upload a file (multipart field `file`, or the raw body). The type is decided from the bytes:
/// JPEG, PNG, WebP, GIF (re-encoded without metadata, with a thumbnail) or PDF. Others: 415.
/// Only the uploader (and, later, those a message or note shares it with) may read it.
/// Images whose decoded pixels would exceed `media.max_decoded_mib` (40 MiB; a 12-megapixel photo
/// needs 36), and animated GIFs whose canvas exceeds a quarter of that, are refused (422) before
/// they are decoded; a GIF keeps at most 300 frames and 32 megapixels of frames in all. 429 after
/// `media.uploads_per_hour` (120) uploads; 503 while the image decoders are busy (retry); 507
/// `quota_exceeded` when the caller's files would pass `media.quota_mb` (500 MB), 507
/// `storage_full` while the server's disk has less than `media.min_free_mb` free.
#[endpoint(tags("media"), security(("bearer" = [])))]
async fn upload(req: &mut Request, depot: &mut Depot) -> Result<Created<MediaView>, AppError> {
    let st = state(depot);
    let (bytes, name) = read_upload(req, &st).await?;
    let m = svc::upload(&st, me(depot)?.id(), bytes, &name, MediaPurpose::Upload).await?;
    Ok(Created(svc::view(&st, &m, m.owner_id)))
}

/// The bytes of a media item, with a bearer token or a signed URL (`exp`, `u`, `sig`, `thumb`).
/// 404 when it does not exist or the caller may not see it. A signed URL is valid for
/// `media.url_ttl_secs` to twice that, and only while the user it was made for (`u`) may still see
/// the item: removed from the chat, the attachment deleted or the note hidden, it answers 404.
#[endpoint(
    tags("media"),
    parameters(
        ("id" = String, Path, description = "Media id"),
        ("exp" = Option<i64>, Query, description = "Signed URL expiry (unix seconds)"),
        ("u" = Option<String>, Query, description = "Signed URL: the user it was made for (it works while that user may see the item)"),
        ("sig" = Option<String>, Query, description = "Signed URL signature"),
        ("thumb" = Option<u8>, Query, description = "1 for the thumbnail")
    )
)]
async fn read(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let id = path_id(req, "id", "media")?;
    let thumb = req.query::<String>("thumb").is_some_and(|t| t == "1" || t == "true");
    let reader = match (req.query::<i64>("exp"), req.query::<String>("sig")) {
        (Some(exp), Some(sig)) => {
            let viewer = match req.query::<String>("u") {
                Some(u) => Some(Uuid::try_parse(&u).map_err(|_| AppError::NotFound("media"))?),
                None => None,
            };
            svc::check_signature(&st, id, thumb, exp, viewer, &sig).ok_or(AppError::NotFound("media"))?
        }
        _ => {
            let token = bearer_token(req).ok_or_else(|| AppError::Unauthorized("send a bearer token or use the signed URL".into()))?;
            Reader::User(authenticate(&st, &token)?)
        }
    };
    let (m, bytes) = off_workers(&st, move |st| svc::read(st, reader, id, thumb)).await?;
    let h = res.headers_mut();
    let mime = if thumb { "image/jpeg" } else { m.mime.as_str() };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(mime).map_err(AppError::internal)?);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("private, max-age={}", st.config.media.url_ttl_secs)).map_err(AppError::internal)?,
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", if thumb { m.thumb_sha256.as_deref().unwrap_or("") } else { &m.sha256 })) {
        h.insert(header::ETAG, v);
    }
    let disposition = if m.mime.starts_with("image/") {
        "inline".to_string()
    } else {
        let name = if m.file_name.is_empty() { format!("{}.pdf", m.id) } else { m.file_name.clone() };
        format!("attachment; filename=\"{}\"", name.replace(|c: char| !c.is_ascii() || c == '"', "_"))
    };
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(AppError::internal)?);
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    res.body(bytes);
    Ok(())
}

/// Upload (signed-in users).
pub fn private() -> Router {
    Router::with_path("media").post(upload)
}

/// Read (bearer token or signed URL).
pub fn public() -> Router {
    Router::with_path("media/{id}").get(read)
}
