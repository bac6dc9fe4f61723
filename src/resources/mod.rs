//! The `resources` component: Terraform resource types served by this provider. There is one,
//! `oceanbase_backup_config` ([`backup_config`]), and one data source of the same name
//! ([`backup_config_data`]). The provider dispatches on [`BACKUP_CONFIG_TYPE`].

pub mod backup_config;
pub mod backup_config_data;
pub mod diagnostics;

/// The type name of the backup-config resource.
pub const BACKUP_CONFIG_TYPE: &str = "oceanbase_backup_config";

use std::future::Future;

use futures_util::{StreamExt, TryStreamExt};

/// Runs `work` for every item (tenants, in tenant-id order), at most `limit` at once, and returns
/// the results in the items' order, so that what is folded from them never depends on which answer
/// came first. The first error in that order ends it; work still running is dropped (these are
/// reads). The obshell client bounds the requests in flight on its own; `limit` only keeps the
/// queue of waiting work (and its memory) small.
pub(crate) async fn in_tenant_order<T, R, E, F, Fut>(
    items: Vec<T>,
    limit: usize,
    work: F,
) -> Result<Vec<R>, E>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R, E>>,
{
    futures_util::stream::iter(items)
        .map(work)
        .buffered(limit.max(1))
        .try_collect()
        .await
}

/// Like [`in_tenant_order`], for work whose failures must not stop the rest (writes that are each
/// worth trying): every item is worked on, and every result is returned in the items' order.
pub(crate) async fn all_in_tenant_order<T, R, F, Fut>(
    items: Vec<T>,
    limit: usize,
    work: F,
) -> Vec<R>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = R>,
{
    futures_util::stream::iter(items)
        .map(work)
        .buffered(limit.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Work whose later items finish first, counting how many run at once.
    async fn slow_first(item: u64, running: &AtomicUsize, peak: &AtomicUsize) -> u64 {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100 - item)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        item
    }

    #[tokio::test(start_paused = true)]
    async fn results_keep_the_items_order_and_the_bound_holds() {
        let (running, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let items: Vec<u64> = (0..20).collect();
        let started = tokio::time::Instant::now();
        let (running_ref, peak_ref) = (&running, &peak);
        let results = in_tenant_order(items.clone(), 4, |item| async move {
            Ok::<_, ()>(slow_first(item, running_ref, peak_ref).await)
        })
        .await
        .unwrap();
        assert_eq!(results, items);
        assert_eq!(peak.load(Ordering::SeqCst), 4);
        // Concurrent: far less than the 1.8 s that one after another would take.
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );

        peak.store(0, Ordering::SeqCst);
        let all =
            all_in_tenant_order(items.clone(), 3, |item| slow_first(item, &running, &peak)).await;
        assert_eq!(all, items);
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn the_first_error_in_order_is_returned() {
        let result = in_tenant_order(vec![1, 2, 3, 4], 2, |item| async move {
            if item % 2 == 0 {
                Err(item)
            } else {
                Ok(item)
            }
        })
        .await;
        assert_eq!(result, Err(2));
    }
}
