//! The connect page (`/connect`): how a student or a teacher reaches this server. The server's
//! address as a QR code and as text, and with the local CA (`tls.mode = "local-ca"`) where to get
//! its certificate, its SHA-256 fingerprint and how to trust it on Android, iOS, Windows and
//! ChromeOS. One page, no script, readable on a phone and printable as a poster.

use crate::config::TlsMode;
use crate::error::AppResult;
use crate::search::notes::escape_into;
use crate::state::AppState;

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// How to trust a CA certificate, by system: (system, steps).
const STEPS: [(&str, &[&str]); 4] = [
    (
        "Android",
        &[
            "Open the certificate link above and save the file.",
            "Settings → Security → More security settings → Encryption & credentials → Install a certificate → CA certificate.",
            "Choose the downloaded friend-ca.crt and confirm.",
        ],
    ),
    (
        "iPhone and iPad",
        &[
            "Open the certificate link above in Safari and allow the download.",
            "Settings → Profile Downloaded → Install.",
            "Settings → General → About → Certificate Trust Settings: turn on full trust for this certificate.",
        ],
    ),
    (
        "Windows",
        &[
            "Download the certificate and open it.",
            "Install Certificate → Current User → Place all certificates in: Trusted Root Certification Authorities.",
            "Restart the browser.",
        ],
    ),
    (
        "ChromeOS",
        &[
            "Download the certificate.",
            "Settings → Privacy and security → Security → Manage certificates → Authorities → Import.",
            "Choose friend-ca.crt and tick “Trust this certificate for identifying websites”.",
        ],
    ),
];

const STYLE: &str = "\
:root{color-scheme:light dark;--accent:#2f6fdf}\
body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem 1.2rem 3rem;line-height:1.45}\
h1{font-size:1.6rem;margin:.4rem 0}h2{font-size:1.15rem;margin-top:1.6rem}\
.address{display:grid;grid-template-columns:auto 1fr;gap:1.2rem;align-items:center}\
.qr{background:#fff;padding:.6rem;border-radius:.5rem;line-height:0}.qr svg{width:12rem;height:12rem}\
.url{font-size:1.4rem;font-weight:600;word-break:break-all}\
code{font-size:.85rem;word-break:break-all}\
.fp{background:#8882;padding:.6rem;border-radius:.4rem}\
a.button{display:inline-block;padding:.5rem 1rem;border-radius:.35rem;background:var(--accent);color:#fff;text-decoration:none}\
.systems{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:.4rem 1.4rem}\
.systems ol{padding-left:1.2rem;margin:.3rem 0}.note{opacity:.8;font-size:.9rem}\
@media (max-width:34rem){.address{grid-template-columns:1fr}.qr{justify-self:center}}\
@media print{a.button{color:#000;background:none;border:1px solid #000}body{max-width:none}}";

/// The join link of invite `code`: the connect page with the code on it.
pub fn join_url(state: &AppState, code: &str) -> String {
    let code: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
    format!("{}/join/{}", state.base_url.trim_end_matches('/'), code.replace('+', "%20"))
}

/// The connect page, HTML; with `invite`, the page of a join link (its QR code is the link, and
/// the code is shown to type when registering).
pub fn page(state: &AppState, invite: Option<&str>) -> AppResult<String> {
    let link = invite.map(|c| join_url(state, c));
    let url = link.as_deref().unwrap_or(&state.base_url);
    let school = esc(&state.settings().school_name);
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Connect to {school}</title><style>{STYLE}</style></head><body>\
         <h1>Connect to {school}</h1>\
         <section class=\"address\"><div class=\"qr\" aria-label=\"QR code of {u}\">{qr}</div>\
         <div><p>Scan the code, or type this address in the app or a browser:</p>\
         <p class=\"url\" id=\"url\">{u}</p></div></section>",
        u = esc(url),
        qr = super::push::qr_svg(url)?,
    );
    if let Some(code) = invite {
        html.push_str(&format!(
            "<h2>Join with an invite</h2><p>Register in the Friend app (server address <strong>{}</strong>) and type \
             this invite code:</p><p class=\"url\" id=\"invite\">{}</p>\
             <p class=\"note\">The code comes from your school; ask a teacher if it says it expired or is used up.</p>",
            esc(&state.base_url),
            esc(code)
        ));
    }
    match (state.config.tls.mode, crate::infra::tls::ca_info(&state.config)) {
        (TlsMode::LocalCa, Some(ca)) => {
            html.push_str(&format!(
                "<h2>Trust this server once</h2>\
                 <p>This server uses its own certificate authority. Install its certificate once on each \
                 device, and check that the fingerprint your device shows is exactly this one:</p>\
                 <p><a class=\"button\" href=\"/ca.crt\" download=\"friend-ca.crt\">Download the certificate</a></p>\
                 <p class=\"fp\">SHA-256 fingerprint:<br><code id=\"fingerprint\">{}</code></p><div class=\"systems\">",
                esc(&ca.fingerprint)
            ));
            for (system, steps) in STEPS {
                html.push_str(&format!("<section><h3>{system}</h3><ol>"));
                for step in steps {
                    html.push_str(&format!("<li>{}</li>", esc(step)));
                }
                html.push_str("</ol></section>");
            }
            html.push_str(
                "</div><p class=\"note\">The certificate lets this server alone prove who it is on your school's \
                 network; remove it in the same settings when you leave.</p>",
            );
        }
        (TlsMode::Files, _) => {
            html.push_str("<p class=\"note\">This server uses a certificate your school provides: there is nothing to install.</p>");
        }
        _ => html.push_str(
            "<p class=\"note\">This server speaks plain HTTP. Browsers allow notifications and installing the web \
             app only over HTTPS: ask your school's IT team to set <code>tls.mode = \"local-ca\"</code>.</p>",
        ),
    }
    html.push_str("</body></html>");
    Ok(html)
}
