//! Scoped-thread helpers that keep order (`map`, `chunks`, `sort_by`):
//! reading, hashing and checking thousands of revision files is the hot
//! path of every command and of the build script.

use std::num::NonZeroUsize;

/// Below this many items the threads cost more than they save.
const MIN_PARALLEL: usize = 256;

/// `items.into_iter().map(f).collect()`, spread over the machine's cores.
///
/// Each thread writes its results into its own stretch of one vector, so
/// they are moved once: with 10,000 revisions of 448 bytes, every extra
/// collected copy was 4.5 MB of freshly mapped pages (about 1,100 page
/// faults).
pub(crate) fn map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    map_with(items, || (), |(), item| f(item))
}

/// [`map`] with a `state` of each thread's own, made by `new_state` in the
/// thread that uses it (a reading buffer, an open directory) and dropped
/// when its stretch is done.
pub(crate) fn map_with<T: Send, U: Send, S>(
    items: Vec<T>,
    new_state: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, T) -> U + Sync,
) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads == 1 || items.len() < MIN_PARALLEL {
        let mut state = new_state();
        return items.into_iter().map(|item| f(&mut state, item)).collect();
    }
    let chunk_len = items.len().div_ceil(threads);
    let mut results: Vec<Option<U>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    // Each thread takes its items out of their slots (collected in place,
    // as the results are below).
    let mut items: Vec<Option<T>> = items.into_iter().map(Some).collect();
    let (new_state, f) = (&new_state, &f);
    std::thread::scope(|scope| {
        let handles: Vec<_> = results
            .chunks_mut(chunk_len)
            .zip(items.chunks_mut(chunk_len))
            .map(|(slots, chunk)| {
                scope.spawn(move || {
                    let mut state = new_state();
                    for (slot, item) in slots.iter_mut().zip(chunk) {
                        *slot = item.take().map(|item| f(&mut state, item));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    // In place: `Option<U>` is `U`'s size whenever `U` has a niche, as the results here do.
    results.into_iter().map(|slot| slot.expect("every slot is written")).collect()
}

/// `f` applied to each of a few stretches of `items`, one per core, in
/// order: for work too small per item to be worth a result each.
pub(crate) fn chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads == 1 || items.len() < MIN_PARALLEL {
        return vec![f(items)];
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            items.chunks(items.len().div_ceil(threads)).map(|chunk| scope.spawn(move || f(chunk))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// `items.sort_unstable_by(compare)`, the two halves sorted on two cores
/// and then merged: sorting 10,000 paths was a tenth of a debug-built build
/// script, all of it on one core.
pub(crate) fn sort_by<T: Send>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> std::cmp::Ordering + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads == 1 || items.len() < MIN_PARALLEL {
        items.sort_unstable_by(compare);
        return;
    }
    let mut right = items.split_off(items.len() / 2);
    let compare = &compare;
    std::thread::scope(|scope| {
        let sorting = scope.spawn(|| right.sort_unstable_by(compare));
        items.sort_unstable_by(compare);
        sorting.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    });
    let mut merged = Vec::with_capacity(items.len() + right.len());
    let (mut left, mut right) = (std::mem::take(items).into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (left.peek(), right.peek()) {
        let next = if compare(b, a).is_lt() { right.next() } else { left.next() };
        merged.extend(next);
    }
    merged.extend(left);
    merged.extend(right);
    *items = merged;
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

    /// Every thread counts its own items in its own state.
    #[test]
    fn each_thread_has_its_own_state() {
        let items: Vec<usize> = (0..10_000).collect();
        let seen = super::map_with(
            items,
            || 0,
            |count: &mut usize, i| {
                *count += 1;
                (i, *count)
            },
        );
        assert!(seen.iter().enumerate().all(|(i, (item, _))| *item == i));
        // A thread's count starts at 1 where its stretch starts.
        let starts = seen.iter().filter(|(_, count)| *count == 1).count();
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(starts, threads.min(10_000));
        assert_eq!(super::map_with(vec![1, 2], || 10, |base: &mut i32, i| *base + i), [11, 12]);
    }

    #[test]
    fn sorts_like_sort_unstable() {
        let mut items: Vec<u64> = (0..10_000u64).map(|i| i.wrapping_mul(2_654_435_761) % 1_000).collect();
        let mut expected = items.clone();
        expected.sort_unstable();
        super::sort_by(&mut items, |a, b| a.cmp(b));
        assert_eq!(items, expected);
        let mut small = vec![3, 1, 2];
        super::sort_by(&mut small, |a, b| a.cmp(b));
        assert_eq!(small, [1, 2, 3]);
    }

    #[test]
    fn chunks_keep_order() {
        let items: Vec<usize> = (0..10_000).collect();
        let sums: Vec<Vec<usize>> = super::chunks(&items, |chunk| chunk.iter().map(|i| i * 2).collect());
        assert_eq!(sums.concat(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(super::chunks(&[1, 2], |chunk: &[i32]| chunk.len()), [2]);
    }
}
