//! One page out of a short list that is read whole (sessions, chats, goals, invites). The cursor
//! is the sort key of the last item returned, so an item added or removed between two requests
//! never shifts the next page or repeats an item.

use crate::error::{AppError, AppResult};

/// Which way a list runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Smallest key first.
    Ascending,
    /// Largest key first (newest first for time-ordered keys).
    Descending,
}

/// Sorts `items` by `key` (which must be unique, and whose text order is the list's order), skips
/// everything up to and including `cursor`, and returns at most `limit` items with the cursor of
/// the next page (None at the end).
pub fn cut<T>(
    items: Vec<T>,
    order: Order,
    limit: usize,
    cursor: Option<&str>,
    key: impl Fn(&T) -> String,
) -> AppResult<(Vec<T>, Option<String>)> {
    if cursor.is_some_and(|c| c.len() > 300) {
        return Err(AppError::field("cursor", "not a cursor from a previous page"));
    }
    let mut keyed: Vec<(String, T)> = items.into_iter().map(|t| (key(&t), t)).collect();
    keyed.sort_by(|a, b| match order {
        Order::Ascending => a.0.cmp(&b.0),
        Order::Descending => b.0.cmp(&a.0),
    });
    let after = |k: &str| match (cursor, order) {
        (None, _) => true,
        (Some(c), Order::Ascending) => k > c,
        (Some(c), Order::Descending) => k < c,
    };
    let mut rest = keyed.into_iter().filter(|(k, _)| after(k)).peekable();
    let mut page = Vec::with_capacity(limit.min(100));
    let mut last = None;
    while page.len() < limit {
        match rest.next() {
            Some((k, t)) => {
                last = Some(k);
                page.push(t);
            }
            None => break,
        }
    }
    let next = if rest.peek().is_some() { last } else { None };
    Ok((page, next))
}

/// A time-then-id sort key whose text order is the time order (fixed-width hex milliseconds).
pub fn time_key(at: chrono::DateTime<chrono::Utc>, id: impl std::fmt::Display) -> String {
    format!("{:016x}.{id}", at.timestamp_millis().max(0))
}

/// Every item of a list paginated by id cursors (exports), following `next_cursor` to the end.
pub fn all<T>(mut page: impl FnMut(Option<uuid::Uuid>) -> AppResult<(Vec<T>, Option<String>)>) -> AppResult<Vec<T>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (items, next) = page(cursor)?;
        out.extend(items);
        match next.and_then(|c| uuid::Uuid::try_parse(&c).ok()) {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &[u32]) -> Vec<u32> {
        v.to_vec()
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let items: Vec<u32> = (0..7).collect();
        let key = |n: &u32| format!("{n:04}");
        let (p1, c1) = cut(items.clone(), Order::Descending, 3, None, key).unwrap();
        assert_eq!(keys(&p1), vec![6, 5, 4]);
        let (p2, c2) = cut(items.clone(), Order::Descending, 3, c1.as_deref(), key).unwrap();
        assert_eq!(keys(&p2), vec![3, 2, 1]);
        let (p3, c3) = cut(items.clone(), Order::Descending, 3, c2.as_deref(), key).unwrap();
        assert_eq!((keys(&p3), c3), (vec![0], None));
        // An item removed between two pages shifts nothing.
        let fewer: Vec<u32> = items.iter().copied().filter(|n| *n != 3).collect();
        let (p2b, _) = cut(fewer, Order::Descending, 3, Some("0004"), key).unwrap();
        assert_eq!(keys(&p2b), vec![2, 1, 0]);
    }

    #[test]
    fn ascending_last_page_and_exact_fit_end_with_no_cursor() {
        let key = |n: &u32| format!("{n:04}");
        let (p, c) = cut(vec![2, 0, 1], Order::Ascending, 3, None, key).unwrap();
        assert_eq!((p, c), (vec![0, 1, 2], None));
        let (p, c) = cut(vec![2, 0, 1], Order::Ascending, 2, None, key).unwrap();
        assert_eq!((p, c), (vec![0, 1], Some("0001".to_string())));
        assert!(cut(vec![1u32], Order::Ascending, 2, Some(&"x".repeat(301)), key).is_err());
    }

    #[test]
    fn time_keys_sort_as_times() {
        use chrono::TimeZone;
        let a = time_key(chrono::Utc.timestamp_millis_opt(999).unwrap(), "b");
        let b = time_key(chrono::Utc.timestamp_millis_opt(1000).unwrap(), "a");
        assert!(a < b);
    }
}
