//! The crate's one sort.
//!
//! `slice::sort_unstable` is fast, but each type it is used with adds 2 to
//! 3 KB to the wasm module, and the crate sorts seven kinds of things. Here
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
        reorder(v, &order);
    }
}

/// Moves the items of `v` so that item `k` is the one that was at
/// `order[k]`, a permutation of `0..v.len()` (what [`merge_order`] returns).
/// Only this shim is compiled per item type: the move itself is
/// [`permute`], on bytes.
fn reorder<T>(v: &mut [T], order: &[usize]) {
    let size = core::mem::size_of::<T>();
    // SAFETY: `permute` reads and writes only the `v.len()` items of `size`
    // bytes at `v`'s start, and leaves each exactly once in its new place:
    // it checks that `order` is a permutation of `0..v.len()` first.
    unsafe { permute(v.as_mut_ptr().cast::<u8>(), size, v.len(), order) }
}

/// Moves `len` items of `size` bytes at `base` so that item `k` is the
/// one that was at `order[k]`: copied out in sorted order (sequential
/// writes, which a large, shuffled input needs to stay fast), then back.
/// Does nothing unless `order` is a permutation of `0..len`, so that no
/// item is lost or doubled.
///
/// # Safety
/// `base` must point to `len` initialised items of `size` bytes each.
unsafe fn permute(base: *mut u8, size: usize, len: usize, order: &[usize]) {
    if order.len() != len || size == 0 {
        return;
    }
    let mut taken = vec![false; len];
    for &i in order {
        match taken.get_mut(i) {
            Some(t) if !*t => *t = true,
            _ => return,
        }
    }
    let mut out: Vec<u8> = Vec::with_capacity(len * size);
    let dst = out.as_mut_ptr();
    for (k, &i) in order.iter().enumerate() {
        // SAFETY: `i` and `k` are below `len`, so both ranges lie inside
        // their buffers, which do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(base.add(i * size), dst.add(k * size), size) };
    }
    // SAFETY: `out` holds `len * size` bytes, the items in their new order.
    unsafe { core::ptr::copy_nonoverlapping(dst, base, len * size) };
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

    #[test]
    fn an_order_that_is_not_a_permutation_moves_nothing() {
        let mut v = vec![String::from("a"), String::from("b")];
        for order in [&[0, 0][..], &[1], &[0, 2], &[1, 0, 2]] {
            reorder(&mut v, order);
            assert_eq!(v, ["a", "b"]);
        }
        reorder(&mut v, &[1, 0]);
        assert_eq!(v, ["b", "a"]);
    }
}
