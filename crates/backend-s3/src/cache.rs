//! The optional read-through cache of small objects and listings.

use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;

use crate::config::CacheConfig;
use crate::store::Listing;

/// Small objects by key and listings by (prefix, delimited).
///
/// Both caches are bounded by bytes. This backend's own writes invalidate
/// the written key and every listing (a write can add a key to any listing
/// of an ancestor); other writers' changes show once entries expire.
#[derive(Debug, Clone)]
pub(crate) struct ReadCache {
    objects: Cache<String, Bytes>,
    listings: Cache<(String, bool), Arc<Listing>>,
    max_object_bytes: usize,
}

impl ReadCache {
    pub(crate) fn new(config: &CacheConfig) -> Self {
        // Listings get a quarter of the budget: they are small and cheap to
        // rebuild compared with objects fetched one by one.
        let listing_budget = (config.max_bytes / 4).max(1);
        ReadCache {
            objects: Cache::builder()
                .max_capacity(config.max_bytes.saturating_sub(listing_budget).max(1))
                .weigher(|_key: &String, value: &Bytes| {
                    u32::try_from(value.len() + 64).unwrap_or(u32::MAX)
                })
                .time_to_live(config.time_to_live)
                .build(),
            listings: Cache::builder()
                .max_capacity(listing_budget)
                .weigher(|key: &(String, bool), value: &Arc<Listing>| {
                    value
                        .weight()
                        .saturating_add(u32::try_from(key.0.len()).unwrap_or(0))
                })
                .time_to_live(config.time_to_live)
                .build(),
            max_object_bytes: config.max_object_bytes,
        }
    }

    pub(crate) async fn object(&self, key: &str) -> Option<Bytes> {
        self.objects.get(key).await
    }

    pub(crate) async fn put_object(&self, key: &str, bytes: &Bytes) {
        if bytes.len() <= self.max_object_bytes {
            self.objects.insert(key.to_owned(), bytes.clone()).await;
        }
    }

    pub(crate) async fn listing(&self, prefix: &str, delimited: bool) -> Option<Arc<Listing>> {
        self.listings.get(&(prefix.to_owned(), delimited)).await
    }

    pub(crate) async fn put_listing(&self, prefix: &str, delimited: bool, listing: Arc<Listing>) {
        self.listings
            .insert((prefix.to_owned(), delimited), listing)
            .await;
    }

    /// Forgets `key` (or every object when `None`) and every listing.
    pub(crate) async fn invalidate(&self, key: Option<&str>) {
        match key {
            Some(k) => self.objects.invalidate(k).await,
            None => self.objects.invalidate_all(),
        }
        self.listings.invalidate_all();
    }
}
