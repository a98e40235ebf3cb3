//! The member ids of chats, kept in memory: every published chat event resolves its audience, and
//! a prefix scan of `chat_members` under write load costs more than the rest of the delivery.
//! Entries are dropped when a chat's membership is written; a generation counter keeps a read that
//! raced such a write from caching what it saw before it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use uuid::Uuid;

/// Chats whose member ids are cached, at most this many (then the cache starts over).
const MAX_CHATS: usize = 50_000;

/// Chat id → member ids.
#[derive(Default)]
pub struct MemberCache {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    chats: HashMap<Uuid, Arc<[Uuid]>>,
}

impl MemberCache {
    /// The cached ids of `chat`, or the generation to pass to [`MemberCache::insert`] after reading them.
    pub fn get(&self, chat: Uuid) -> Result<Arc<[Uuid]>, u64> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.chats.get(&chat).cloned().ok_or(inner.generation)
    }

    /// Caches ids read from storage, unless a membership was written since `generation`.
    pub fn insert(&self, chat: Uuid, ids: Arc<[Uuid]>, generation: u64) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            return;
        }
        if inner.chats.len() >= MAX_CHATS {
            inner.chats.clear();
        }
        inner.chats.insert(chat, ids);
    }

    /// Forgets `chats` after their memberships were written.
    pub fn invalidate(&self, chats: impl IntoIterator<Item = Uuid>) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        inner.generation += 1;
        for c in chats {
            inner.chats.remove(&c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_raced_a_membership_write_is_not_cached() {
        let cache = MemberCache::default();
        let (chat, a, b) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let generation = cache.get(chat).unwrap_err();
        // A member joins between the read and the insert: the stale read is dropped.
        cache.invalidate([chat]);
        cache.insert(chat, Arc::from([a]), generation);
        let generation = cache.get(chat).unwrap_err();
        cache.insert(chat, Arc::from([a, b]), generation);
        assert_eq!(&*cache.get(chat).unwrap(), &[a, b]);
        cache.invalidate([chat]);
        assert!(cache.get(chat).is_err());
    }
}
