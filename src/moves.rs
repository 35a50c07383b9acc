//! Moving the items of a vector by their bytes, compiled once for every
//! item type.
//!
//! The moves of a sort and of a retain by flags are compiled anew for each
//! item type otherwise, a few hundred bytes of wasm each, and the crate
//! sorts ten types. Here the moving is done once, on bytes; per item type
//! there is only a shim, and the loop that drops what a retain lets go.

use crate::prelude::*;

/// Moves the items of `v` so that item `k` is the one that was at
/// `order[k]`. Does nothing unless `order` is a permutation of
/// `0..v.len()` (what the sort's `merge_order` returns).
pub fn reorder<T>(v: &mut [T], order: &[usize]) {
    // SAFETY: `permute` moves only the `v.len()` items at `v`'s start, and
    // only along a permutation: each item ends up in one place.
    unsafe { permute(v.as_mut_ptr().cast::<u8>(), core::mem::size_of::<T>(), v.len(), order) }
}

/// Keeps the items of `v` whose flag in `kept` is set, in order, and drops
/// the others (items past the end of `kept` are kept).
pub fn keep_flagged<T>(v: &mut Vec<T>, kept: &[bool]) {
    let len = v.len();
    let base = v.as_mut_ptr();
    // SAFETY: the length is 0 while items are dropped and moved, so a drop
    // that panics (only natively: the wasm build aborts) leaks the rest
    // rather than dropping any twice. Each item refused is dropped once,
    // and `compact` then moves each kept one once, to a lower or the same
    // place, and returns how many there are.
    unsafe {
        v.set_len(0);
        for (i, &keep) in kept.iter().take(len).enumerate() {
            if !keep {
                core::ptr::drop_in_place(base.add(i));
            }
        }
        v.set_len(compact(base.cast::<u8>(), core::mem::size_of::<T>(), len, kept));
    }
}

/// Moves `len` items of `size` bytes at `base` so that item `k` is the one
/// that was at `order[k]`: copied out in sorted order (sequential writes,
/// which a large, shuffled input needs to stay fast), then back. Does
/// nothing unless `order` is a permutation of `0..len`, so that no item is
/// lost or doubled.
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

/// Of the `len` items of `size` bytes at `base`, moves those whose flag is
/// set (or that have none) down over the others, in order; returns how
/// many there are.
///
/// # Safety
/// `base` must point to `len` items of `size` bytes each; the ones moved
/// over are left as plain bytes (the caller has dropped them).
unsafe fn compact(base: *mut u8, size: usize, len: usize, kept: &[bool]) -> usize {
    let mut n = 0;
    for i in 0..len {
        if kept.get(i).copied().unwrap_or(true) {
            if i != n {
                // SAFETY: `n < i < len`: two distinct items inside the buffer.
                unsafe { core::ptr::copy_nonoverlapping(base.add(i * size), base.add(n * size), size) };
            }
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keep_flagged_is_retain(v in prop::collection::vec(".{0,3}", 0..60), flags in prop::collection::vec(any::<bool>(), 0..80)) {
            let mut expected = v.clone();
            let mut it = flags.iter();
            expected.retain(|_| it.next().copied().unwrap_or(true));
            let mut v = v;
            keep_flagged(&mut v, &flags);
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
