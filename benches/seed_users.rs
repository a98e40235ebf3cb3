//! Seeds a data directory with N users straight through the store (no HTTP, one shared password
//! hash), to measure start-up time and lookups at scale.
//! `cargo bench --bench seed_users -- DATA_DIR N [FRIENDSHIPS HUB_FRIENDS]` (every user's password
//! is `bench-password`). With FRIENDSHIPS, random pairs become friends, and `seed0` gets HUB_FRIENDS.

use friend::model::{ProfileVisibility, Role};
use friend::store::Store;
use friend::store::social;
use friend::store::users::{self, Settings, UserRecord};

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: seed_users DATA_DIR N"));
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = Store::open(&dir, 64).unwrap();
        let hasher = friend::service::passwords::Hasher::new(friend::service::cpu_pool::CpuPool::new(1, 4));
        let hash = hasher.hash("bench-password".into()).await.unwrap();
        let started = std::time::Instant::now();
        let now = chrono::Utc::now();
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let u = UserRecord {
                id: friend::ids::new_id(),
                email: format!("seed{i}@bench.test"),
                username: format!("seed{i}"),
                name: format!("Seed User {i}"),
                bio: String::new(),
                study_focus: ["Maths", "Physics", "History", "Biology"][i % 4].into(),
                timezone: "Europe/Paris".into(),
                settings: Settings::default(),
                profile_visibility: ProfileVisibility::Everyone,
                role: Role::Student,
                disabled: false,
                password_hash: hash.clone(),
                avatar_id: None,
                created_at: now,
                updated_at: now,
                last_seen_at: None,
                deleted_at: None,
            };
            users::insert(&store, &u, None).unwrap();
            ids.push(u.id);
        }
        store.flush_now().unwrap();
        println!("seeded {n} users in {:.1} s", started.elapsed().as_secs_f64());
        let pairs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let hub: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
        if pairs > 0 {
            let started = std::time::Instant::now();
            // A small deterministic generator (xorshift) so runs are comparable.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for i in 1..=hub.min(n - 1) {
                social::restore_friendship(&store, ids[0], ids[i], now).unwrap();
            }
            let mut made = hub.min(n - 1);
            while made < pairs {
                let (a, b) = ((next() % n as u64) as usize, (next() % n as u64) as usize);
                if a != b && a != 0 && b != 0 && !social::are_friends(&store, ids[a], ids[b]).unwrap() {
                    social::restore_friendship(&store, ids[a], ids[b], now).unwrap();
                    made += 1;
                }
            }
            store.flush_now().unwrap();
            println!("seeded {made} friendships in {:.1} s", started.elapsed().as_secs_f64());
        }
    });
}
