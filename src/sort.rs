//! The crate's one sort.
//!
//! `slice::sort_unstable` is fast, but each type it is used with adds 2 to
//! 3 KB to the wasm module, and the crate sorts seven kinds of things. Here
//! the sorting itself is one natural merge sort over item indices, compiled
//! once for every type (the comparison is a `dyn` call), and so is the
//! sortedness check; per item type there is only the final move of the
//! items, and per call site only the comparison. It is stable,
//! O(n log n) whatever the input (a hostile peer cannot make it quadratic),
//! O(n) for input made of a few sorted runs, and returns at once for sorted
//! input, which is what honest peers send.

use crate::prelude::*;

/// Sorts `v` so that `less` never holds for a later item against an earlier one.
pub fn sort_by<T>(v: &mut Vec<T>, less: impl Fn(&T, &T) -> bool) {
    let order = {
        let items: &[T] = v;
        merge_order(items.len(), &|i, j| match (items.get(i), items.get(j)) {
            (Some(a), Some(b)) => less(a, b),
            _ => false,
        })
    };
    if let Some(order) = order {
        reorder(v, &order);
    }
}

/// Moves the items of `v` so that item `k` is the one that was at
/// `order[k]` (the only part of the sort compiled once per item type). Each
/// item is moved out in order and back in sorted order: sequential writes,
/// which a large, shuffled input needs to stay fast.
fn reorder<T>(v: &mut Vec<T>, order: &[usize]) {
    let mut items: Vec<Option<T>> = Vec::with_capacity(v.len());
    while let Some(item) = v.pop() {
        items.push(Some(item));
    }
    let last = items.len();
    for &i in order {
        // (Popped from the end: the item that was at `i` is at `last - 1 - i`.)
        if let Some(item) = last.checked_sub(i + 1).and_then(|j| items.get_mut(j)).and_then(Option::take) {
            v.push(item);
        }
    }
}

/// Sorts `v` in ascending order.
pub fn sort<T: Ord>(v: &mut Vec<T>) {
    sort_by(v, |a, b| a < b);
}

/// The order of indices `0..n` that sorts the items `less` compares, or
/// `None` if they are sorted already: sorted runs are found, then merged
/// pairwise until one is left.
fn merge_order(n: usize, less: &dyn Fn(usize, usize) -> bool) -> Option<Vec<usize>> {
    let first_break = (1..n).find(|&i| less(i, i - 1))?;
    let mut bounds = vec![0, first_break];
    bounds.extend((first_break + 1..n).filter(|&i| less(i, i - 1)));
    bounds.push(n);
    let mut order: Vec<usize> = (0..n).collect();
    let mut buf = vec![0; n];
    while bounds.len() > 2 {
        let mut merged = Vec::with_capacity(bounds.len() / 2 + 2);
        let mut k = 0;
        while let (Some(&lo), Some(&mid)) = (bounds.get(k), bounds.get(k + 1)) {
            let hi = bounds.get(k + 2).copied().unwrap_or(mid);
            if let (Some(src), Some(dst)) = (order.get(lo..hi), buf.get_mut(lo..hi)) {
                merge(src, mid - lo, dst, less);
            }
            merged.push(lo);
            k += 2;
        }
        merged.push(n);
        core::mem::swap(&mut order, &mut buf);
        bounds = merged;
    }
    Some(order)
}

/// Merges the sorted halves `src[..mid]` and `src[mid..]` into `dst`,
/// taking from the left half on ties (so the sort is stable).
fn merge(src: &[usize], mid: usize, dst: &mut [usize], less: &dyn Fn(usize, usize) -> bool) {
    let (left, right) = src.split_at(mid.min(src.len()));
    let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
    for slot in dst.iter_mut() {
        let next = match (l.peek(), r.peek()) {
            (Some(&&a), Some(&&b)) if less(b, a) => r.next(),
            (Some(_), _) => l.next(),
            (None, _) => r.next(),
        };
        if let Some(&i) = next {
            *slot = i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_the_standard_library(mut v in prop::collection::vec(any::<i16>(), 0..300)) {
            let mut expected = v.clone();
            expected.sort();
            sort(&mut v);
            prop_assert_eq!(v, expected);
        }

        #[test]
        fn is_stable(mut v in prop::collection::vec((0u8..4, any::<u16>()), 0..200)) {
            let mut expected = v.clone();
            expected.sort_by_key(|x| x.0);
            sort_by(&mut v, |a, b| a.0 < b.0);
            prop_assert_eq!(v, expected);
        }
    }
}
