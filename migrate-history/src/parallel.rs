//! A scoped-thread `map` that keeps order: reading and hashing thousands of
//! revision files is the hot path of every command and of the build script.

use std::num::NonZeroUsize;

/// Below this many items the threads cost more than they save.
const MIN_PARALLEL: usize = 256;

/// `items.into_iter().map(f).collect()`, spread over the machine's cores.
pub(crate) fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads == 1 || items.len() < MIN_PARALLEL {
        return items.into_iter().map(f).collect();
    }
    let chunk_len = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let chunk: Vec<T> = items.by_ref().take(chunk_len).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            chunks.into_iter().map(|chunk| scope.spawn(move || chunk.into_iter().map(f).collect::<Vec<U>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<usize> = (0..10_000).collect();
        let doubled = super::map(items, |i| i * 2);
        assert!(doubled.iter().enumerate().all(|(i, d)| *d == i * 2));
        assert_eq!(super::map(vec![1, 2], |i| i + 1), [2, 3]);
    }
}
