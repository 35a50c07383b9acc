//! The crate's one sort.
//!
//! `slice::sort_unstable` is fast, but each type it is used with adds 2 to
//! 3 KB to the wasm module, and the crate sorts ten kinds of things. Here
//! the sorting itself is one natural merge sort over item indices, compiled
//! once for every type (the comparison is a `dyn` call), and so are the
//! sortedness check and the final move of the items (on their bytes); per
//! call site there is only the comparison. It is stable,
//! O(n log n) whatever the input (a hostile peer cannot make it quadratic),
//! O(n) for input made of a few sorted runs, and returns at once for sorted
//! input, which is what honest peers send.

use crate::prelude::*;

/// Sorts `v` so that `less` never holds for a later item against an earlier one.
pub fn sort_by<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    let order = {
        let items: &[T] = v;
        merge_order(items.len(), &|i, j| match (items.get(i), items.get(j)) {
            (Some(a), Some(b)) => less(a, b),
            _ => false,
        })
    };
    if let Some(order) = order {
        crate::moves::reorder(v, &order);
    }
}

/// Sorts `v` in ascending order.
pub fn sort<T: Ord>(v: &mut [T]) {
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
        fn moves_owned_items_whole(mut v in prop::collection::vec(".{0,3}", 0..100)) {
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
