//! Mechanisms the application state is built from, below the services: the CPU pool, password
//! hashing, access-token keys, throttles, the live registries of who is connected and typing, and the Web Push client.

pub mod cpu_pool;
pub mod mdns;
pub mod ntfy_hub;
pub mod passwords;
pub mod presence;
pub mod tally;
pub mod throttle;
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod typing;
pub mod web_push;
