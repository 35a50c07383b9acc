//! The one module that speaks to JavaScript: thin wrappers over [`Doc`] that
//! convert arguments and errors at the boundary. The idiomatic API (events,
//! transactions, argument checks) is `pkg/doc.js`.
//!
//! Keys and elements arrive in the document's input buffer (see
//! [`Core::input_buffer`]), numbers as `f64` (checked here to be safe
//! integers), register values as JSON text or bytes; lists go back as JSON
//! text, one string per call, because that is cheaper than building JS objects
//! field by field across the boundary.

use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;

use wasm_bindgen::prelude::*;

use crate::clock::WallClock;
use crate::counter::{Counter, MAX_SAFE_INTEGER};
use crate::doc::{Changes, Doc, Kind, Options};
use crate::error::{DecodeError, Error, ErrorKind};
use crate::json::quote;
use crate::limits::Limits;
use crate::prelude::*;
use crate::register::Value;
use crate::text::{cat, push_i64};

/// The heap: rlsf's TLSF allocator (constant-time allocate and free, about
/// 1 KB of wasm) instead of std's dlmalloc (about 8 KB). Measured with
/// bench/: the same write and merge speed or better, 2.3 KB less gzipped.
#[global_allocator]
static HEAP: rlsf::GlobalTlsf<HeapOptions> = rlsf::GlobalTlsf::new();

/// rlsf's defaults (pools grown by `memory.grow` merge into one, so a block
/// larger than a 64 KiB page is served without waste), less its in-place
/// `realloc`: a grown buffer is copied, for 0.3 KB less code and no speed
/// difference the benchmarks could see.
struct HeapOptions;

impl rlsf::GlobalTlsfOptions for HeapOptions {
    const ENABLE_REALLOCATION: bool = false;
}

/// Flag bits for mutating calls: commit the change as its own transaction
/// now (no `transact` is open), and encode its update for listeners.
const COMMIT: u32 = 1;
const ENCODE: u32 = 2;

/// What a write or `applyUpdate` returns: `CHANGED` if it changed the
/// document (a write: committed a transaction with effect, so events are
/// due), `FAILED` if it failed, the error then waiting for `slotkv_take_error`, else 0.
/// A number rather than a `Result`: wasm-bindgen returns a `Result` as three
/// values, which V8 hands to JavaScript as a new array on every call.
const CHANGED: u32 = 1;
const FAILED: u32 = 2;

/// What a hot call that returns the size of its output returns when it
/// failed, the error then waiting for `slotkv_take_error` (no output is that long);
/// as an argument, "no bytes".
const NONE: usize = usize::MAX;

/// A constructor's error, as a plain JavaScript `Error` (the hot calls'
/// errors keep their class: see `Core::take_error`). pkg/doc.js checks
/// the options first, so what fails here is the platform's randomness, or
/// a caller that bypasses pkg/doc.js.
fn js_error(e: Error) -> JsError {
    JsError::new(&e.message())
}

/// The clock pkg/doc.js gives: the app's `now` option or `Date.now()`,
/// called with the Doc marked busy (the core holds the write's key in the
/// input buffer meanwhile, and `Date.now` may be an app's replacement too).
/// pkg/doc.js already falls back to `Date.now()` where `now` throws or
/// returns something other than a finite number >= 0, and to 0 where
/// `Date.now` throws; what still is not such a number reads as 0, and no
/// other JavaScript is called. That is safe: the clock only orders
/// register writes, and the hybrid logical clock keeps that order correct
/// whatever the wall clock says. Without a function (Rust callers),
/// `Date.now()`.
struct JsClock(Option<Clock>);

#[wasm_bindgen]
extern "C" {
    /// pkg/doc.js's clock (see [`JsClock`]): an object whose own `read`
    /// method never throws and always returns a number.
    pub type Clock;

    /// `clock.read()`, in one crossing (`Function::call0` takes three: the
    /// call, then a `JsValue` to read and drop; a register write took a
    /// quarter longer). A method of the object's own, not `Function`'s
    /// `call`: a page's replaced `Function.prototype.call` would run before
    /// pkg/doc.js marks the Doc busy, and could use the Doc in the middle
    /// of a write.
    #[wasm_bindgen(method, js_name = read)]
    fn read_ms(clock: &Clock) -> f64;

    /// `Date.now()`.
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
}

impl WallClock for JsClock {
    fn now_ms(&mut self) -> u64 {
        match &self.0 {
            Some(f) => {
                let ms = f.read_ms();
                if ms.is_finite() && ms >= 0.0 {
                    ms as u64
                } else {
                    0
                }
            }
            None => date_now() as u64,
        }
    }
}

fn safe_integer(x: f64, what: &'static str) -> Result<i64, Error> {
    let max = MAX_SAFE_INTEGER as f64;
    // In range first (NaN is not), then whole: the cast is exact in range.
    if !(-max..=max).contains(&x) || x as i64 as f64 != x {
        // No float formatting here: it would add ~20 KB to the module. pkg/doc.js
        // checks first and names the value.
        return Err(Error::UnsafeInteger { what });
    }
    Ok(x as i64)
}

/// `Limits` from its seven fields, each a positive safe integer.
fn to_limits(values: &[f64]) -> Result<Limits, JsError> {
    let mut fields = [0u64; 7];
    if values.len() != fields.len() {
        return Err(JsError::new("slotkv: limits must have seven fields"));
    }
    for (field, &v) in fields.iter_mut().zip(values) {
        let n = safe_integer(v, "a limit").map_err(js_error)?;
        if n < 1 {
            return Err(JsError::new("slotkv: a limit must be at least 1"));
        }
        *field = n as u64;
    }
    let [max_update_bytes, max_string_bytes, max_value_bytes, max_value_depth, max_clients, max_entries, max_doc_clients] = fields;
    Ok(Limits {
        max_update_bytes,
        max_string_bytes,
        max_value_bytes,
        max_value_depth: max_value_depth.min(1000) as usize,
        max_clients,
        max_entries,
        max_doc_clients,
    })
}

/// A kind's number (0 = counters, 1 = registers, 2 = sets). Another (only
/// a caller bypassing pkg/doc.js passes one) names no kind: its list is empty.
fn kind(k: u32) -> Option<Kind> {
    match k {
        0 => Some(Kind::Counter),
        1 => Some(Kind::Register),
        2 => Some(Kind::Set),
        _ => None,
    }
}

/// `["a","b",…]`, each string JSON-quoted.
fn push_list<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(s, out);
    }
    out.push(']');
}

/// [`push_list`] as a string of its own.
fn list_json<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    push_list(&mut out, items);
    out
}

fn push_keys(out: &mut String, name: &str, keys: &[crate::doc::Key]) {
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
    push_list(out, keys.iter().map(|k| &**k));
}

fn changes_json(c: &Changes) -> String {
    let mut out = String::from("{");
    push_keys(&mut out, "counters", &c.counters);
    out.push(',');
    push_keys(&mut out, "registers", &c.registers);
    out.push(',');
    push_keys(&mut out, "sets", &c.sets);
    out.push('}');
    out
}

/// The document as JavaScript sees it (wrapped by `Doc` in `pkg/doc.js`):
/// wasm-bindgen's object, for the one call that takes JS values (the
/// constructor). What it holds is a [`Core`] of its own on the
/// heap, which the hot calls reach directly (see `hot_calls!`).
#[wasm_bindgen]
pub struct RawDoc {
    /// Owned: a leaked `Box`, freed when the `RawDoc` is dropped.
    held: NonNull<Held>,
}

/// A document's [`Core`], and whether a call on it is running: every use
/// of the `Core` goes through [`enter`], which refuses a call inside
/// another (pkg/doc.js never makes one; this is the second line).
pub struct Held {
    busy: Cell<bool>,
    core: UnsafeCell<Core>,
}

/// What a [`RawDoc`] holds.
pub struct Core {
    doc: Doc,
    /// The last commit's update, if it was asked for.
    update: Option<Vec<u8>>,
    /// The last failed call's error (see `FAILED`).
    error: Option<Error>,
    /// Where pkg/doc.js writes a call's key, then its element if it has one,
    /// as UTF-8 (see [`Core::input_buffer`]).
    input: Vec<u8>,
    /// The output of the last hot call that returns text or bytes, when it
    /// made them: they return their size, and pkg/doc.js reads them in
    /// place, at `out_at` (see `slotkv_out`).
    out: Vec<u8>,
    /// Where the output is: in `out`, or in the document (a register's
    /// value, which `get` leaves where it is).
    out_at: *const u8,
}

/// The [`Core`] that `held` holds, marked busy until [`leave`], or `None`
/// if `held` is null. A call inside a call on the same document traps
/// here, before it touches anything: the outer call's `&mut Core` is live,
/// and a second one would alias it. (Not generic, so that each hot call
/// adds only the call of it.)
///
/// # Safety
/// `held` is null or the [`Held`] of a live document (see `hot_calls!`),
/// and the `Core` is not used after [`leave`].
unsafe fn enter<'a>(held: *const Held) -> Option<&'a mut Core> {
    // SAFETY: the caller's; `Held` is only ever shared, its `Core` only
    // reached between `enter` and `leave`.
    let held = unsafe { held.as_ref() }?;
    if held.busy.replace(true) {
        core::arch::wasm32::unreachable();
    }
    // SAFETY: `busy` was clear: no other reference to the `Core` is live.
    Some(unsafe { &mut *held.core.get() })
}

/// Ends the call [`enter`] began.
///
/// # Safety
/// As for [`enter`].
unsafe fn leave(held: *const Held) {
    // SAFETY: the caller's.
    if let Some(held) = unsafe { held.as_ref() } {
        held.busy.set(false);
    }
}

impl Drop for RawDoc {
    fn drop(&mut self) {
        // SAFETY: `held` is a leaked `Box`, live until here.
        if unsafe { self.held.as_ref() }.busy.get() {
            // Freed from inside a call on it (pkg/doc.js never does so):
            // the running call still holds it, so it is left, not freed.
            return;
        }
        // SAFETY: `held` is a leaked `Box`, and this is its last use.
        drop(unsafe { Box::from_raw(self.held.as_ptr()) });
    }
}

/// The `len` bytes at `from` in the input buffer, as the text `what`.
fn text_in<'a>(input: &'a [u8], from: usize, len: usize, what: &'static str) -> Result<&'a str, Error> {
    let bytes = bytes_in(input, from, len).ok_or(Error::NotUtf8 { what })?;
    core::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { what })
}

/// The key of a call: the first `key_len` bytes of the input buffer.
fn key_in(input: &[u8], key_len: usize) -> Result<&str, Error> {
    text_in(input, 0, key_len, "a key")
}

/// The `len` bytes at `from` in the input buffer.
fn bytes_in(input: &[u8], from: usize, len: usize) -> Option<&[u8]> {
    input.get(from..).and_then(|rest| rest.get(..len))
}

/// The first `len` bytes of the input buffer, a message (an update, or a
/// version): refused as truncated if the buffer is shorter (only a caller
/// bypassing pkg/doc.js passes such a length).
fn message_in(input: &[u8], len: usize) -> Result<&[u8], Error> {
    bytes_in(input, 0, len).ok_or(Error::Decode(DecodeError::Truncated { what: "the input buffer" }))
}

/// The key and the element of a call: the element's `element_len` bytes
/// follow the key's in the input buffer.
fn key_element_in(input: &[u8], key_len: usize, element_len: usize) -> Result<(&str, &str), Error> {
    Ok((key_in(input, key_len)?, text_in(input, key_len, element_len, "a set element")?))
}

#[wasm_bindgen]
impl RawDoc {
    /// `retention_ms < 0` means the default (30 days). `limits`, when given,
    /// are the seven `Limits` fields in declaration order (pkg/doc.js checks
    /// them first).
    #[wasm_bindgen(constructor)]
    pub fn new(client_id: Option<String>, now: Option<Clock>, retention_ms: f64, limits: Option<Vec<f64>>) -> Result<RawDoc, JsError> {
        let mut options = Options { client_id, ..Options::default() };
        if retention_ms >= 0.0 {
            options.tombstone_retention_ms = safe_integer(retention_ms, "tombstoneRetentionMs").map_err(js_error)? as u64;
        }
        if let Some(values) = limits {
            options.limits = to_limits(&values)?;
        }
        let doc = Doc::with_clock(options, Box::new(JsClock(now))).map_err(js_error)?;
        let core = Core { doc, update: None, error: None, input: Vec::new(), out: Vec::new(), out_at: core::ptr::null() };
        let held = Box::new(Held { busy: Cell::new(false), core: UnsafeCell::new(core) });
        Ok(RawDoc { held: NonNull::from(Box::leak(held)) })
    }

    /// The address of this document's [`Held`] core, for the hot calls.
    pub fn core(&self) -> *const Held {
        self.held.as_ptr()
    }
}

impl RawDoc {
    /// Runs `call` on this document's [`Core`] (for Rust callers: the
    /// browser tests).
    pub fn with<R>(&mut self, call: impl FnOnce(&mut Core) -> R) -> R {
        let held = self.held.as_ptr();
        // SAFETY: `held` is live while `self` is, and never null.
        let out = call(unsafe { enter(held) }.unwrap_or_else(|| core::arch::wasm32::unreachable()));
        unsafe { leave(held) };
        out
    }
}

/// The calls that pkg/doc.js makes through the hot exports, and what the
/// writes share.
impl Core {
    /// Ends the open transaction. Returns whether it changed anything.
    pub fn commit(&mut self, encode: bool) -> bool {
        match self.doc.finish(encode) {
            Some(update) => {
                self.update = update;
                true
            }
            None => false,
        }
    }

    /// The input buffer, grown to at least `len` bytes: its address in wasm
    /// memory, valid until the next call to this, or 0 if there is no
    /// memory for it (then it is unchanged). pkg/doc.js writes each call's
    /// strings there in place, which costs no allocation per call, as
    /// passing a `&str` would (about a fifth of an `increment`), and the
    /// bytes of an update or a value. A `len` of 0 gives its memory back
    /// (after a large update, say).
    pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
        if len == 0 {
            self.input = Vec::new();
        } else if let Some(more) = len.checked_sub(self.input.len()).filter(|&more| more > 0) {
            if self.input.try_reserve(more).is_err() {
                return core::ptr::null_mut();
            }
            self.input.resize(len, 0);
        }
        self.input.as_mut_ptr()
    }

    /// Gives the output's memory back; 1 if it held any.
    fn out_free(&mut self) -> u32 {
        self.out_at = core::ptr::null();
        u32::from(core::mem::take(&mut self.out).capacity() > 0)
    }

    /// Puts `bytes` in the output (see `slotkv_out`); returns their size.
    fn give(&mut self, bytes: impl Into<Vec<u8>>) -> usize {
        self.out = bytes.into();
        self.out_at = self.out.as_ptr();
        self.out.len()
    }

    pub fn client_id(&mut self) -> usize {
        let id = String::from(self.doc.client_id().as_str());
        self.give(id)
    }

    /// `{"clientId": net, …}`.
    pub fn counter_slots(&mut self, key_len: usize) -> usize {
        let mut out = String::from("{");
        if let Some(counter) = self.read(key_len).and_then(|key| self.doc.counter_state(key)) {
            for (i, (client, slot)) in counter.slots().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(client.as_str(), &mut out);
                out.push(':');
                push_i64(&mut out, slot.net());
            }
        }
        out.push('}');
        self.give(out)
    }

    /// The register's value: its JSON text (returns `2 * size + 1`) or
    /// bytes (`2 * size + 2`), or nothing (0). The output is the value as
    /// the document holds it, not a copy. (A number: a value over 2 GiB
    /// would not fit a `usize` so.)
    pub fn get(&mut self, key_len: usize) -> f64 {
        let (value, tag) = match self.read(key_len).and_then(|key| self.doc.get(key)) {
            Some(Value::Json(text)) => (text.as_bytes(), 1),
            Some(Value::Bytes(b)) => (b.as_slice(), 2),
            None => return 0.0,
        };
        let (at, len) = (value.as_ptr(), value.len());
        self.out_at = at;
        (2 * len as u64 + tag) as f64
    }

    /// `{"writer","wall","logical","deleted"}` of the register's last write,
    /// or nothing (0).
    pub fn register_info(&mut self, key_len: usize) -> usize {
        let Some(r) = self.read(key_len).and_then(|key| self.doc.register(key)) else {
            return 0;
        };
        let mut out = String::from("{\"writer\":");
        quote(r.writer.as_str(), &mut out);
        out.push_str(&cat![",\"wall\":", r.ts.wall, ",\"logical\":", r.ts.logical, ",\"deleted\":", if r.is_tombstone() { "true" } else { "false" }, "}"]);
        self.give(out)
    }

    /// The live keys of a kind (see `kind`), as a JSON array.
    pub fn keys(&mut self, k: u32) -> usize {
        let list = list_json(kind(k).map_or_else(Vec::new, |k| self.doc.keys(k)));
        self.give(list)
    }

    /// The members, as a JSON array.
    pub fn members(&mut self, key_len: usize) -> usize {
        let list = list_json(self.read(key_len).map_or_else(Vec::new, |key| self.doc.members(key)));
        self.give(list)
    }

    /// The whole document as one JSON text, so `toJSON` crosses once:
    /// `{"counters":{k:v},"registers":{k:value},"sets":{k:[…]},"bytes":[k…]}`.
    /// A register holding bytes, which JSON cannot carry, is `null` there and
    /// its key listed in `bytes`, to be read with `get`.
    pub fn entries_json(&mut self) -> usize {
        let mut out = String::from("{\"counters\":{");
        for (i, key) in self.doc.keys(Kind::Counter).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(key, &mut out);
            out.push(':');
            push_i64(&mut out, self.doc.counter_state(key).map_or(0, Counter::safe_value));
        }
        out.push_str("},\"registers\":{");
        let mut bytes = Vec::new();
        for (i, key) in self.doc.keys(Kind::Register).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(key, &mut out);
            out.push(':');
            match self.doc.get(key) {
                Some(Value::Json(text)) => out.push_str(text),
                _ => {
                    out.push_str("null");
                    bytes.push(key);
                }
            }
        }
        out.push_str("},\"sets\":{");
        for (i, key) in self.doc.keys(Kind::Set).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(key, &mut out);
            out.push(':');
            push_list(&mut out, self.doc.members(key));
        }
        out.push_str("},\"bytes\":");
        push_list(&mut out, bytes);
        out.push('}');
        self.give(out)
    }

    pub fn version(&mut self) -> usize {
        let version = self.doc.version();
        self.give(version)
    }

    pub fn encode_state(&mut self) -> usize {
        let state = self.doc.encode_state();
        self.give(state)
    }

    /// The last commit's update (once), as the output; its size, or 0 if
    /// there is none (an update is never empty: it starts with `MAGIC`).
    pub fn take_update(&mut self) -> usize {
        let update = self.update.take().unwrap_or_default();
        self.give(update)
    }

    /// The last commit's or update's changed keys as JSON, as the output;
    /// its size.
    pub fn last_changes(&mut self) -> usize {
        let changes = changes_json(self.doc.last_changes());
        self.give(changes)
    }

    /// A write's outcome (see `FAILED`): on success, commits pending changes
    /// if `flags` says so.
    fn wrote(&mut self, r: Result<(), Error>, flags: u32) -> u32 {
        if let Err(e) = r {
            return self.fail(e);
        }
        let committed = flags & COMMIT != 0 && self.commit(flags & ENCODE != 0);
        if committed {
            CHANGED
        } else {
            0
        }
    }

    /// A read's key. Bytes that are not UTF-8 (only a caller bypassing
    /// pkg/doc.js writes them) name no key, so the read finds nothing.
    fn read(&self, key_len: usize) -> Option<&str> {
        key_in(&self.input, key_len).ok()
    }

    /// The error of the last call that returned `FAILED` (once): its
    /// message to the output, and `4 × its length + its class` (1
    /// `TypeError`, 2 `RangeError`, 3 `Error`), or 0 if there is none.
    pub fn take_error(&mut self) -> f64 {
        let Some(e) = self.error.take() else {
            return 0.0;
        };
        let class = match e.kind() {
            ErrorKind::Type => 1,
            ErrorKind::Range => 2,
            ErrorKind::Other => 3,
        };
        (4 * self.give(e.message()) as u64 + class) as f64
    }

    fn fail(&mut self, e: Error) -> u32 {
        self.error = Some(e);
        FAILED
    }

    /// The JSON text's `json_len` bytes follow the key's in the input buffer.
    pub fn set_json(&mut self, key_len: usize, json_len: usize, flags: u32) -> u32 {
        let r = key_in(&self.input, key_len).and_then(|key| {
            let json = text_in(&self.input, key_len, json_len, "a register value")?;
            self.doc.set(key, Value::Json(json.into()))
        });
        self.wrote(r, flags)
    }

    /// The value's `len` bytes follow the key's in the input buffer.
    pub fn set_bytes(&mut self, key_len: usize, len: usize, flags: u32) -> u32 {
        let r = key_in(&self.input, key_len).and_then(|key| {
            let bytes = bytes_in(&self.input, key_len, len).ok_or_else(|| Error::ValueTooLarge { reason: "it is longer than the input buffer".into() })?;
            self.doc.set(key, Value::Bytes(bytes.to_vec()))
        });
        self.wrote(r, flags)
    }

    /// The update is the input buffer's first `len` bytes. `CHANGED` if it
    /// had any effect (its changed keys are then in `last_changes`), or
    /// `FAILED`. `stored`: bytes this document's own storage holds (see
    /// `Doc::apply_stored`), what persist.js loads.
    pub fn apply_update(&mut self, len: usize, stored: bool) -> u32 {
        let r = message_in(&self.input, len).and_then(|update| {
            if stored {
                self.doc.apply_stored(update)
            } else {
                self.doc.apply(update)
            }
        });
        match r {
            Ok(true) => CHANGED,
            Ok(false) => 0,
            Err(e) => self.fail(e),
        }
    }

    /// The delta (to the output) a peer at version `since` (the input
    /// buffer's first `since_len` bytes; `NONE`: no version, a peer with
    /// nothing) lacks, in format `format` at most (`as` maps what pkg/doc.js
    /// would never pass, NaN or negative, to 0: format 1); its size, or `NONE`.
    pub fn encode_delta(&mut self, since_len: usize, format: f64) -> usize {
        let since = match since_len {
            NONE => Ok(None),
            len => message_in(&self.input, len).map(Some),
        };
        match since.and_then(|since| self.doc.encode_delta_in(since, format as u64)) {
            Ok(delta) => self.give(delta),
            Err(e) => {
                self.fail(e);
                NONE
            }
        }
    }

    pub fn increment(&mut self, key_len: usize, delta: f64, flags: u32) -> u32 {
        let r = key_in(&self.input, key_len).and_then(|key| self.doc.increment(key, safe_integer(delta, "the delta")?));
        self.wrote(r, flags)
    }

    /// A safe integer (see `Counter::safe_value`).
    pub fn counter(&self, key_len: usize) -> f64 {
        self.read(key_len).and_then(|key| self.doc.counter_state(key)).map_or(0, Counter::safe_value) as f64
    }

    pub fn delete(&mut self, key_len: usize, flags: u32) -> u32 {
        let r = key_in(&self.input, key_len).and_then(|key| self.doc.delete(key));
        self.wrote(r, flags)
    }

    /// The element's bytes follow the key's in the input buffer.
    pub fn add(&mut self, key_len: usize, element_len: usize, flags: u32) -> u32 {
        let r = key_element_in(&self.input, key_len, element_len).and_then(|(key, element)| self.doc.add(key, element));
        self.wrote(r, flags)
    }

    pub fn remove(&mut self, key_len: usize, element_len: usize, flags: u32) -> u32 {
        let r = key_element_in(&self.input, key_len, element_len).and_then(|(key, element)| self.doc.remove(key, element));
        self.wrote(r, flags)
    }

    pub fn has(&self, key_len: usize, element_len: usize) -> bool {
        key_element_in(&self.input, key_len, element_len).is_ok_and(|(key, element)| self.doc.has(key, element))
    }
}

/// The hot calls: plain wasm exports, each running a [`Core`] method (or
/// reading the output), that pkg/doc.js calls with the address
/// `RawDoc::core` gave. Through wasm-bindgen's method wrappers (a reference
/// count and a borrow flag to take and give back, a closure, a JS shim, and
/// for text and bytes an allocation that JavaScript then frees), an
/// `increment` took 30 to 35 ns more: a sixth of it, warm. So every call
/// goes this way but the constructor, which takes JS values. (An error goes
/// back as its message and its class, and pkg/doc.js makes the `Error`.)
/// Strings and bytes come in through the input buffer; those that return
/// text or bytes leave them in the output buffer (or point at them where
/// the document holds them: `get`), return their size, and pkg/doc.js
/// copies them out at once (`slotkv_out`).
///
/// Each is `unsafe`: `held` is that of a document that is not freed.
/// pkg/doc.js checks that before each call, or makes the call right after
/// one it checked. A null `held` does nothing and returns the default
/// given. A call inside another call on the same document traps (see
/// [`enter`]); pkg/doc.js never makes one (it refuses calls from the
/// clock, the one callback that runs during a call).
macro_rules! hot_calls {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $call:expr, else $default:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// See the hot calls (`hot_calls!` in src/wasm.rs).
        #[no_mangle]
        pub unsafe extern "C" fn $name(held: *const Held, $($arg: $ty),*) -> $ret {
            // SAFETY: the caller's (see above).
            match unsafe { enter(held) } {
                Some(c) => {
                    let out = $call(c, $($arg),*);
                    unsafe { leave(held) };
                    out
                }
                None => $default,
            }
        }
    )*};
}

hot_calls! {
    /// `Core::input_buffer`.
    fn slotkv_input_buffer(len: usize) -> *mut u8 = Core::input_buffer, else core::ptr::null_mut();
    /// `Core::commit`, 1 or 0.
    fn slotkv_commit(encode: u32) -> u32 = |c: &mut Core, encode: u32| u32::from(c.commit(encode != 0)), else 0;
    /// `Core::increment`.
    fn slotkv_increment(key_len: usize, delta: f64, flags: u32) -> u32 = Core::increment, else 0;
    /// `Core::set_json`.
    fn slotkv_set_json(key_len: usize, json_len: usize, flags: u32) -> u32 = Core::set_json, else 0;
    /// `Core::set_bytes`.
    fn slotkv_set_bytes(key_len: usize, len: usize, flags: u32) -> u32 = Core::set_bytes, else 0;
    /// `Core::apply_update`.
    fn slotkv_apply_update(len: usize) -> u32 = |c: &mut Core, len| c.apply_update(len, false), else 0;
    /// `Core::apply_update` of stored bytes.
    fn slotkv_apply_stored(len: usize) -> u32 = |c: &mut Core, len| c.apply_update(len, true), else 0;
    /// `Core::encode_delta`, to the output.
    fn slotkv_encode_delta(since_len: usize, format: f64) -> usize = Core::encode_delta, else NONE;
    /// `Core::counter`.
    fn slotkv_counter(key_len: usize) -> f64 = Core::counter, else 0.0;
    /// `Core::counter_slots`, to the output.
    fn slotkv_counter_slots(key_len: usize) -> usize = Core::counter_slots, else 0;
    /// `Core::get`, the output pointing at the value where the document holds it.
    fn slotkv_get(key_len: usize) -> f64 = Core::get, else 0.0;
    /// `Core::register_info`, to the output.
    fn slotkv_register_info(key_len: usize) -> usize = Core::register_info, else 0;
    /// `Core::delete`.
    fn slotkv_delete(key_len: usize, flags: u32) -> u32 = Core::delete, else 0;
    /// `Core::add`.
    fn slotkv_add(key_len: usize, element_len: usize, flags: u32) -> u32 = Core::add, else 0;
    /// `Core::remove`.
    fn slotkv_remove(key_len: usize, element_len: usize, flags: u32) -> u32 = Core::remove, else 0;
    /// `Core::has`, 1 or 0.
    fn slotkv_has(key_len: usize, element_len: usize) -> u32 = |c: &mut Core, key_len, element_len| u32::from(c.has(key_len, element_len)), else 0;
    /// `Core::keys`, to the output.
    fn slotkv_keys(kind: u32) -> usize = Core::keys, else 0;
    /// `Core::members`, to the output.
    fn slotkv_members(key_len: usize) -> usize = Core::members, else 0;
    /// `Core::client_id`, to the output.
    fn slotkv_client_id() -> usize = Core::client_id, else 0;
    /// `Core::entries_json`, to the output.
    fn slotkv_entries_json() -> usize = Core::entries_json, else 0;
    /// `Core::version`, to the output.
    fn slotkv_version() -> usize = Core::version, else 0;
    /// `Core::encode_state`, to the output.
    fn slotkv_encode_state() -> usize = Core::encode_state, else 0;
    /// `Core::take_update`, to the output: an update listener takes every
    /// local transaction's update, so this runs once per write of an app
    /// that syncs.
    fn slotkv_take_update() -> usize = Core::take_update, else 0;
    /// `Core::last_changes`, to the output: once per transaction or applied
    /// update, with a change listener.
    fn slotkv_last_changes() -> usize = Core::last_changes, else 0;
    /// Where the output is, valid until the next call on the document:
    /// pkg/doc.js copies it out at once.
    fn slotkv_out() -> *const u8 = |c: &mut Core| c.out_at, else core::ptr::null();
    /// Gives the output's memory back (after a large one).
    fn slotkv_out_free() -> u32 = Core::out_free, else 0;
    /// `Core::take_error`, to the output.
    fn slotkv_take_error() -> f64 = Core::take_error, else 0.0;
}

impl Core {
    /// Writes `parts` one after another into the input buffer, as pkg/doc.js
    /// writes a call's key and element; returns their lengths. For Rust
    /// callers (the browser tests): JavaScript writes to wasm memory itself.
    pub fn put(&mut self, parts: &[&[u8]]) -> Vec<usize> {
        self.input.clear();
        for part in parts {
            self.input.extend_from_slice(part);
        }
        parts.iter().map(|p| p.len()).collect()
    }
}

/// A panic (none is reachable from JavaScript input, see SECURITY.md) stops
/// the module with a trap, as `panic = "abort"` does with std, without
/// std's message formatting.
#[cfg(feature = "bundle")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
