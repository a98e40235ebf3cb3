//! The layering of DESIGN.md, checked on the source: which module may name which. A forbidden
//! reference fails this test with the file and line, so the arrows stay fixed.
//!
//! ```text
//! lib.rs, cli.rs, control.rs, jobs.rs   (composition: may use everything)
//! http/ ─▶ realtime/ ─▶ service/ ─▶ events/ ─▶ store/ (the only sled user)
//!   └──────────────────────▲ state.rs, infra/, search/ (below the services)
//! ```

use std::path::{Path, PathBuf};

/// (path prefix under src/, the `crate::` modules it must not name, why).
const RULES: &[(&str, &[&str], &str)] = &[
    ("http/", &["store"], "handlers call services; only store/ touches storage"),
    ("realtime/", &["store", "http"], "the socket layer goes through services"),
    ("service/", &["realtime", "http", "control", "jobs", "cli"], "services never reach up to the hub or HTTP"),
    ("events/", &["service", "realtime", "http", "jobs"], "the event log sits below the services"),
    ("state.rs", &["service", "realtime", "http", "jobs"], "the state sits below the services (lib.rs composes)"),
    ("infra/", &["service", "realtime", "http", "events", "jobs"], "mechanisms below the state"),
    ("search/", &["service", "realtime", "http", "events", "jobs"], "the search indexes are below the services"),
    (
        "ml/",
        &["service", "realtime", "http", "events", "state", "store", "search", "jobs"],
        "the model and its rules are pure: data in, numbers out",
    ),
    ("store/", &["service", "realtime", "http", "events", "state", "search", "jobs"], "storage is the bottom layer"),
    ("access.rs", &["service", "realtime", "http", "store", "state"], "access types depend on nothing above"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source lines without `//` comments (doc comments may describe other layers).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.split("//").next().unwrap_or(""))).filter(|(_, l)| !l.trim().is_empty())
}

/// True if `line` names the crate module `module` (`crate::module::…`, `crate::module;`, or in a
/// grouped `use crate::{…, module, …}`).
fn names(line: &str, module: &str) -> bool {
    let direct = [format!("crate::{module}::"), format!("crate::{module};"), format!("crate::{module} "), format!("crate::{module},")];
    if direct.iter().any(|d| line.contains(d.as_str())) {
        return true;
    }
    line.find("crate::{").is_some_and(|at| line[at + 8..].split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn all_sources() -> Vec<(String, String)> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn modules_only_name_the_layers_below_them() {
    let mut bad = Vec::new();
    for (rel, text) in all_sources() {
        for (prefix, forbidden, why) in RULES {
            if !rel.starts_with(prefix) {
                continue;
            }
            for (n, line) in code_lines(&text) {
                for m in *forbidden {
                    if names(line, m) {
                        bad.push(format!("src/{rel}:{n} names crate::{m} ({why}): {}", line.trim()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

/// `file:line: code` of every code line of the files `file` keeps for which `bad` holds.
fn offending(file: impl Fn(&str) -> bool, bad: impl Fn(&str) -> bool) -> Vec<String> {
    all_sources()
        .into_iter()
        .filter(|(rel, _)| file(rel))
        .flat_map(|(rel, text)| {
            code_lines(&text).filter(|(_, l)| bad(l)).map(|(n, l)| format!("src/{rel}:{n}: {}", l.trim())).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn only_store_uses_sled() {
    let bad = offending(|rel| !rel.starts_with("store/"), |l| l.contains("sled::"));
    assert!(bad.is_empty(), "sled outside src/store:\n{}", bad.join("\n"));
}

#[test]
fn salvo_lives_in_http_apart_from_schema_derives_and_the_server_start() {
    let bad = offending(
        |rel| !rel.starts_with("http/") && rel != "lib.rs",
        |l| l.contains("salvo") && !l.contains("salvo::oapi::ToSchema") && !l.trim_start().starts_with("#[salvo(schema("),
    );
    assert!(bad.is_empty(), "salvo outside src/http:\n{}", bad.join("\n"));
}

#[test]
fn only_authentication_makes_a_caller() {
    let bad = offending(|rel| rel != "access.rs" && rel != "service/auth.rs", |l| l.contains("Caller::authenticated"));
    assert!(bad.is_empty(), "a Caller made outside authentication:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_sees_a_forbidden_import() {
    assert!(names("use crate::store::users;", "store"));
    assert!(names("    let x = crate::store::chat::members(s, id)?;", "store"));
    assert!(names("use crate::{error, store};", "store"));
    assert!(!names("use crate::service::media::MediaPurpose;", "store"));
    assert!(!names("use crate::storefront::x;", "store"));
    assert!(code_lines("// use crate::store::x;\nlet a = 1;").all(|(_, l)| !names(l, "store")));
}
