//! Subscription operations, serialized once and shared.
//!
//! Every subscription keeps its operation as JSON to resubscribe after a reconnect. Subscriptions
//! to the same operation (a thousand `new_incidents()` streams, say) share one copy, interned when
//! the subscription is made, so even a burst of subscriptions never holds a copy each.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// The set of distinct operation payloads in use on one client.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payloads(Arc<Mutex<HashSet<Arc<str>>>>);

impl Payloads {
    fn lock(&self) -> MutexGuard<'_, HashSet<Arc<str>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The shared copy of `text`.
    pub(crate) fn intern(&self, text: String) -> Arc<str> {
        let mut set = self.lock();
        if let Some(shared) = set.get(text.as_str()) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        set.insert(shared.clone());
        shared
    }

    /// Forgets `payload` when the set and the caller's copy are the last ones.
    pub(crate) fn release(&self, payload: &Arc<str>) {
        let mut set = self.lock();
        if Arc::strong_count(payload) <= 2 {
            set.remove(payload);
        }
    }

    /// Forgets every payload no subscription holds.
    pub(crate) fn release_unused(&self) {
        self.lock().retain(|payload| Arc::strong_count(payload) > 1);
    }

    /// How many distinct payloads are stored.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_payloads_share_one_copy_until_the_last_is_released() {
        let payloads = Payloads::default();
        let a = payloads.intern(String::from(r#"{"query":"subscription { a }"}"#));
        let b = payloads.intern(String::from(r#"{"query":"subscription { a }"}"#));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(payloads.len(), 1);
        payloads.release(&a);
        assert_eq!(payloads.len(), 1, "b still holds it");
        drop(a);
        payloads.release(&b);
        assert_eq!(payloads.len(), 0);
        let c = payloads.intern(String::from("{}"));
        drop(c);
        payloads.release_unused();
        assert_eq!(payloads.len(), 0);
    }
}
