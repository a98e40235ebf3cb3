//! Power cuts, not process kills: the data directory lives on a FUSE file system
//! (`tests/power_cut_fs.py`) that forgets, when "the power is cut", every byte not fsynced and
//! every file created since its directory's last fsync. Each cycle writes through the API, kills the
//! server, cuts the power, then checks that the database opens, every tree reads (an offline
//! verified backup), no acknowledged write is lost and the search index still finds notes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::storage::{cli, login, register};
use crate::support::{Process, spawn};

/// Power cuts in one run (the issue asks for at least 100).
const CYCLES: u64 = 100;
/// Settings writers and note writers while the power is on.
const WRITERS: usize = 3;

/// The FUSE file system, mounted until [`PowerCutFs::cut`].
struct PowerCutFs {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    mountpoint: PathBuf,
}

impl PowerCutFs {
    fn mount(backing: &Path, mountpoint: &Path) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/power_cut_fs.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args([backing, mountpoint])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with fusepy (tests/run.sh installs it)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the FUSE file system did not mount (needs /dev/fuse, fuse3 and fusepy)");
        Self { child, stdin, stdout, mountpoint: mountpoint.to_path_buf() }
    }

    /// Cuts the power (the server must be dead): returns what the file system forgot.
    fn cut(mut self) -> String {
        self.stdin.write_all(b"cut\n").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(self.child.wait().unwrap().success(), "the FUSE file system failed: {line}");
        line.trim().to_string()
    }
}

impl Drop for PowerCutFs {
    fn drop(&mut self) {
        let _ = Command::new("fusermount").args(["-u", "-z"]).arg(&self.mountpoint).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the writers were told is stored.
#[derive(Default)]
struct Acked {
    /// Per settings writer: the last value acknowledged and the last one sent.
    settings: Vec<(u64, u64)>,
    /// Notes acknowledged in this cycle: (id, its unique word).
    notes: Vec<(String, String)>,
}

/// Starts the writers: settings writers PATCH /me with a counter of their own, note writers POST
/// notes with a unique word; each records what was acknowledged, until the server is gone.
fn start_writers(server: &Process, token: &str, cycle: u64, acked: &Arc<Mutex<Acked>>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let clones = || (server.http.clone(), server.base.clone(), token.to_string(), acked.clone());
    for w in 0..WRITERS {
        let (http, base, token, acked) = clones();
        tasks.push(tokio::spawn(async move {
            let mut n = acked.lock().await.settings[w].1;
            loop {
                n += 1;
                acked.lock().await.settings[w].1 = n;
                let body = json!({"settings": {format!("w{w}"): n}});
                match http.patch(format!("{base}/api/v1/me")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 200 => acked.lock().await.settings[w].0 = n,
                    Ok(r) => panic!("PATCH /me answered {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
        let (http, base, token, acked) = clones();
        tasks.push(tokio::spawn(async move {
            let mut k = 0;
            loop {
                k += 1;
                let word = format!("cut{cycle}w{w}n{k}");
                let body =
                    json!({"title": format!("Power note {k}"), "content": format!("Photosynthesis {word}"), "visibility": "private"});
                match http.post(format!("{base}/api/v1/notes")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 201 => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        if let Some(id) = v["id"].as_str() {
                            acked.lock().await.notes.push((id.to_string(), word));
                        }
                    }
                    Ok(r) => panic!("POST /notes answered {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    tasks
}

/// Polls the search until it finds `word` (the index catches up with storage after a start).
async fn found_by_search(server: &Process, token: &str, word: &str) -> bool {
    for _ in 0..100 {
        let (status, body) = server.get(&format!("/api/v1/notes/search?q={word}"), token).await;
        assert_eq!(status, 200, "search after a power cut: {body}");
        if body["items"].as_array().is_some_and(|items| !items.is_empty()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_power_cuts() {
    let root = tempfile::tempdir().unwrap();
    let (backing, mountpoint, backups) = (root.path().join("disk"), root.path().join("mnt"), root.path().join("backups"));
    for d in [&backing, &mountpoint, &backups] {
        std::fs::create_dir_all(d).unwrap();
    }
    let data = mountpoint.join("data");
    let acked = Arc::new(Mutex::new(Acked { settings: vec![(0, 0); WRITERS], notes: Vec::new() }));
    let mut forgotten = Vec::new();
    let mut notes_acked = 0;
    for cycle in 0..CYCLES {
        let fs = PowerCutFs::mount(&backing, &mountpoint);
        if cycle > 0 {
            // The database opens and every tree reads: an offline backup reads them all and verifies.
            let file = backups.join("check.jsonl");
            let (ok, out) = cli(&["backup", file.to_str().unwrap()], &data, None);
            assert!(ok && out.contains("verified"), "cycle {cycle}: backup after the cut failed: {out}");
        }
        let server = spawn(&data);
        let token = if cycle == 0 { register(&server, "lights").await } else { login(&server, "lights", "password-1").await };

        let mut a = acked.lock().await;
        let (status, me) = server.get("/api/v1/me", &token).await;
        assert_eq!(status, 200, "{me}");
        for (w, (done, sent)) in a.settings.iter().enumerate() {
            let stored = me["settings"][format!("w{w}")].as_u64().unwrap_or(0);
            assert!(stored >= *done && stored <= *sent, "cycle {cycle}: writer {w} acknowledged {done} (sent {sent}), stored {stored}");
        }
        for (id, _) in &a.notes {
            let (status, body) = server.get(&format!("/api/v1/notes/{id}"), &token).await;
            assert_eq!(status, 200, "cycle {cycle}: acknowledged note {id} lost: {body}");
        }
        if let Some((_, word)) = a.notes.last() {
            assert!(found_by_search(&server, &token, word).await, "cycle {cycle}: search does not find {word} after the cut");
        }
        notes_acked += a.notes.len();
        a.notes.clear();
        drop(a);

        let writers = start_writers(&server, &token, cycle, &acked);
        // Cut in the middle of the writes, at a different moment each cycle (150–650 ms in).
        tokio::time::sleep(Duration::from_millis(150 + (cycle * 7919) % 500)).await;
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        forgotten.push(fs.cut());
    }
    // The run must have exercised the model: most cuts forgot something written without a sync.
    let forgetful = forgotten.iter().filter(|f| !f.starts_with("cut 0 bytes 0 entries")).count();
    assert!(forgetful > 0, "no cut lost anything unsynced: the file system did not model a power cut ({forgotten:?})");
    let total = acked.lock().await.settings.iter().map(|s| s.0).sum::<u64>();
    assert!(total > CYCLES, "too few writes were acknowledged ({total}) for the test to mean anything");
    eprintln!(
        "{CYCLES} power cuts, {forgetful} forgot unsynced writes; {total} settings writes and {notes_acked}+ notes acknowledged, none lost"
    );
}

#[tokio::test]
async fn damaged_search_indexes_are_rebuilt_and_never_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path());
    let token = register(&server, "zinnia").await;
    let (status, _) = server.post("/api/v1/notes", Some(&token), json!({"title": "Zygote", "content": "meiosis"})).await;
    assert_eq!(status, 201);
    assert!(found_by_search(&server, &token, "meiosis").await);
    server.terminate();

    // The notes index's commit point is garbage; the user index lost its segment files.
    let search = dir.path().join("search");
    std::fs::write(search.join("notes").join("meta.json"), b"{\"segments\": [tru").unwrap();
    for entry in std::fs::read_dir(search.join("users")).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().ends_with(".json") && path.is_file() && !path.ends_with("friend_schema_version") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let again = spawn(dir.path());
    assert!(again.startup.iter().any(|l| l.contains("search index damaged")), "{:?}", again.startup);
    let token = login(&again, "zinnia", "password-1").await;
    assert!(found_by_search(&again, &token, "meiosis").await, "the notes index was not rebuilt");
    let other = register(&again, "yarrow").await;
    let mut found = false;
    for _ in 0..100 {
        let (status, body) = again.get("/api/v1/users?q=zinn", &other).await;
        assert_eq!(status, 200, "{body}");
        if body["items"].as_array().is_some_and(|i| i.iter().any(|u| u["username"] == "zinnia")) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the user index was not rebuilt");
    again.terminate();
}
