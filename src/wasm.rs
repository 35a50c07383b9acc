//! The one module that speaks to JavaScript: thin wrappers over [`Doc`] that
//! convert arguments and errors at the boundary. The idiomatic API (events,
//! transactions, argument checks) is `pkg/doc.js`.
//!
//! Keys and elements arrive in the document's input buffer (see
//! [`Core::input_buffer`]), numbers as `f64` (checked here to be safe
//! integers), register values as JSON text or bytes; lists go back as JSON
//! text, one string per call, because that is cheaper than building JS objects
//! field by field across the boundary.

use core::ptr::NonNull;

use js_sys::{Function, RangeError, TypeError};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::clock::WallClock;
use crate::counter::{Counter, MAX_SAFE_INTEGER};
use crate::doc::{Changes, Doc, Kind, Options};
use crate::error::{Error, ErrorKind};
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
/// due), `FAILED` if it failed, the error then waiting in `takeError`, else 0.
/// A number rather than a `Result`: wasm-bindgen returns a `Result` as three
/// values, which V8 hands to JavaScript as a new array on every call.
const CHANGED: u32 = 1;
const FAILED: u32 = 2;

fn to_js(e: Error) -> JsValue {
    let msg = e.message();
    match e.kind() {
        ErrorKind::Type => TypeError::new(&msg).into(),
        ErrorKind::Range => RangeError::new(&msg).into(),
        ErrorKind::Other => js_sys::Error::new(&msg).into(),
    }
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
    /// pkg/doc.js's clock function (see [`JsClock`]), which never throws
    /// and always returns a number.
    type Clock;

    /// `clock.call(this_arg)` as a number, in one crossing (`Function::call0`
    /// takes three: the call, then a `JsValue` to read and drop; a register
    /// write took a quarter longer).
    #[wasm_bindgen(method, js_name = call)]
    fn call_for_ms(clock: &Clock, this_arg: &JsValue) -> f64;
}

impl WallClock for JsClock {
    fn now_ms(&mut self) -> u64 {
        match &self.0 {
            Some(f) => {
                let ms = f.call_for_ms(&JsValue::UNDEFINED);
                if ms.is_finite() && ms >= 0.0 {
                    ms as u64
                } else {
                    0
                }
            }
            None => js_sys::Date::now() as u64,
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
fn to_limits(values: &[f64]) -> Result<Limits, JsValue> {
    let mut fields = [0u64; 7];
    if values.len() != fields.len() {
        return Err(TypeError::new("slotkv: limits must have seven fields").into());
    }
    for (field, &v) in fields.iter_mut().zip(values) {
        let n = safe_integer(v, "a limit").map_err(to_js)?;
        if n < 1 {
            return Err(RangeError::new("slotkv: a limit must be at least 1").into());
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

fn kind(k: u8) -> Result<Kind, JsValue> {
    match k {
        0 => Ok(Kind::Counter),
        1 => Ok(Kind::Register),
        2 => Ok(Kind::Set),
        _ => Err(TypeError::new("slotkv: kind must be \"counter\", \"register\" or \"set\"").into()),
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
/// wasm-bindgen's object, for the calls that take or return strings, bytes
/// or errors. What it holds is a [`Core`] of its own on the heap, which the
/// hot calls reach directly (see [`hot_increment`]).
#[wasm_bindgen]
pub struct RawDoc {
    /// Owned: a leaked `Box`, freed when the `RawDoc` is dropped.
    /// Every use, here and in the hot calls, goes through this pointer for
    /// the length of one call, and calls on one document never overlap
    /// (see [`hot_increment`]).
    core: NonNull<Core>,
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
    /// The output of the last hot call that returns text or bytes: they
    /// return its size, and pkg/doc.js reads it in place (see [`hot_out`]).
    out: Vec<u8>,
}

impl Drop for RawDoc {
    fn drop(&mut self) {
        // SAFETY: `core` is a leaked `Box`, and this is its last use.
        drop(unsafe { Box::from_raw(self.core.as_ptr()) });
    }
}

impl core::ops::Deref for RawDoc {
    type Target = Core;
    fn deref(&self) -> &Core {
        // SAFETY: `core` is live while `self` is, and no other call on this
        // document is running (see `RawDoc::core`).
        unsafe { self.core.as_ref() }
    }
}

impl core::ops::DerefMut for RawDoc {
    fn deref_mut(&mut self) -> &mut Core {
        // SAFETY: as for `deref`.
        unsafe { self.core.as_mut() }
    }
}

/// The `len` bytes at `from` in the input buffer, as the text `what`.
fn text_in<'a>(input: &'a [u8], from: usize, len: usize, what: &'static str) -> Result<&'a str, Error> {
    let bytes = input.get(from..).and_then(|rest| rest.get(..len)).ok_or(Error::NotUtf8 { what })?;
    core::str::from_utf8(bytes).map_err(|_| Error::NotUtf8 { what })
}

/// The key of a call: the first `key_len` bytes of the input buffer.
fn key_in(input: &[u8], key_len: usize) -> Result<&str, Error> {
    text_in(input, 0, key_len, "a key")
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
    pub fn new(client_id: Option<String>, now: Option<Function>, retention_ms: f64, limits: Option<Vec<f64>>) -> Result<RawDoc, JsValue> {
        let mut options = Options { client_id, ..Options::default() };
        if retention_ms >= 0.0 {
            options.tombstone_retention_ms = safe_integer(retention_ms, "tombstoneRetentionMs").map_err(to_js)? as u64;
        }
        if let Some(values) = limits {
            options.limits = to_limits(&values)?;
        }
        let doc = Doc::with_clock(options, Box::new(JsClock(now.map(JsCast::unchecked_into)))).map_err(to_js)?;
        let core = Box::new(Core { doc, update: None, error: None, input: Vec::new(), out: Vec::new() });
        Ok(RawDoc { core: NonNull::from(Box::leak(core)) })
    }

    /// The address of this document's [`Core`], for the hot calls.
    pub fn core(&self) -> *mut Core {
        self.core.as_ptr()
    }

    #[wasm_bindgen(js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.doc.client_id().as_str().into()
    }

    /// The error of the last call that returned `FAILED` (once).
    #[wasm_bindgen(js_name = takeError)]
    pub fn take_error(&mut self) -> JsValue {
        self.error.take().map_or(JsValue::UNDEFINED, to_js)
    }


    /// `{"clientId": net, …}`.
    #[wasm_bindgen(js_name = counterSlots)]
    pub fn counter_slots(&self, key_len: usize) -> String {
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
        out
    }

    #[wasm_bindgen(js_name = setJson)]
    pub fn set_json(&mut self, key_len: usize, json: String, flags: u32) -> u32 {
        let c: &mut Core = self;
        let r = key_in(&c.input, key_len).and_then(|key| c.doc.set(key, Value::Json(json)));
        c.wrote(r, flags)
    }

    #[wasm_bindgen(js_name = setBytes)]
    pub fn set_bytes(&mut self, key_len: usize, bytes: Vec<u8>, flags: u32) -> u32 {
        let c: &mut Core = self;
        let r = key_in(&c.input, key_len).and_then(|key| c.doc.set(key, Value::Bytes(bytes)));
        c.wrote(r, flags)
    }

    /// JSON text (a string), bytes (a `Uint8Array`) or `undefined`.
    pub fn get(&self, key_len: usize) -> JsValue {
        match self.read(key_len).and_then(|key| self.doc.get(key)) {
            Some(Value::Json(text)) => JsValue::from_str(text),
            Some(Value::Bytes(b)) => js_sys::Uint8Array::from(b.as_slice()).into(),
            None => JsValue::UNDEFINED,
        }
    }

    /// `{"writer","wall","logical","deleted"}` of the register's last write, or "".
    #[wasm_bindgen(js_name = registerInfo)]
    pub fn register_info(&self, key_len: usize) -> String {
        let Some(r) = self.read(key_len).and_then(|key| self.doc.register(key)) else {
            return String::new();
        };
        let mut out = String::from("{\"writer\":");
        quote(r.writer.as_str(), &mut out);
        out.push_str(&cat![",\"wall\":", r.ts.wall, ",\"logical\":", r.ts.logical, ",\"deleted\":", if r.is_tombstone() { "true" } else { "false" }, "}"]);
        out
    }

    /// The members, as a JSON array.
    pub fn members(&self, key_len: usize) -> String {
        list_json(self.read(key_len).map_or_else(Vec::new, |key| self.doc.members(key)))
    }

    /// The live keys of a kind (0 = counters, 1 = registers, 2 = sets), as a
    /// JSON array.
    pub fn keys(&self, k: u8) -> Result<String, JsValue> {
        Ok(list_json(self.doc.keys(kind(k)?)))
    }

    /// The whole document as one JSON text, so `toJSON` crosses once:
    /// `{"counters":{k:v},"registers":{k:value},"sets":{k:[…]},"bytes":[k…]}`.
    /// A register holding bytes, which JSON cannot carry, is `null` there and
    /// its key listed in `bytes`, to be read with `get`.
    #[wasm_bindgen(js_name = entriesJson)]
    pub fn entries_json(&self) -> String {
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
        out
    }

    pub fn version(&self) -> Vec<u8> {
        self.doc.version()
    }

    #[wasm_bindgen(js_name = encodeState)]
    pub fn encode_state(&mut self) -> Vec<u8> {
        self.doc.encode_state()
    }

    /// `format`: the newest format version the receiver reads (`as` maps
    /// what pkg/doc.js would never pass, NaN or negative, to 0: format 1).
    #[wasm_bindgen(js_name = encodeDelta)]
    pub fn encode_delta(&mut self, since: Option<Vec<u8>>, format: f64) -> Result<Vec<u8>, JsValue> {
        self.doc.encode_delta_in(since.as_deref(), format as u64).map_err(to_js)
    }

    /// `CHANGED` if the update had any effect (its changed keys are then in
    /// `lastChanges`), or `FAILED`.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(&mut self, update: &[u8]) -> u32 {
        match self.doc.apply(update) {
            Ok(true) => CHANGED,
            Ok(false) => 0,
            Err(e) => self.fail(e),
        }
    }

    /// `applyUpdate` for bytes this document's own storage holds (see
    /// `Doc::apply_stored`): what persist.js loads.
    #[wasm_bindgen(js_name = applyStored)]
    pub fn apply_stored(&mut self, update: &[u8]) -> u32 {
        match self.doc.apply_stored(update) {
            Ok(true) => CHANGED,
            Ok(false) => 0,
            Err(e) => self.fail(e),
        }
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
    /// passing a `&str` would (about a fifth of an `increment`).
    pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
        if let Some(more) = len.checked_sub(self.input.len()).filter(|&more| more > 0) {
            if self.input.try_reserve(more).is_err() {
                return core::ptr::null_mut();
            }
            self.input.resize(len, 0);
        }
        self.input.as_mut_ptr()
    }

    /// The last commit's update (once), as the output; its size, or 0 if
    /// there is none (an update is never empty: it starts with `MAGIC`).
    pub fn take_update(&mut self) -> usize {
        self.out = self.update.take().unwrap_or_default();
        self.out.len()
    }

    /// The last commit's or update's changed keys as JSON, as the output;
    /// its size.
    pub fn last_changes(&mut self) -> usize {
        self.out = changes_json(self.doc.last_changes()).into_bytes();
        self.out.len()
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

    fn fail(&mut self, e: Error) -> u32 {
        self.error = Some(e);
        FAILED
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

/// Runs `call` on the [`Core`] at `core`, the hot calls' one way in.
///
/// # Safety
/// See [`hot_increment`].
unsafe fn hot<R: Default>(core: *mut Core, call: impl FnOnce(&mut Core) -> R) -> R {
    // SAFETY: the caller's.
    unsafe { core.as_mut() }.map_or_else(R::default, call)
}

/// `Core::increment`, as a plain wasm export: pkg/doc.js calls the hot
/// calls (the writes and reads of one key: numbers in, a number out) this
/// way, with the address `RawDoc::core` gave. Through wasm-bindgen's
/// method wrappers (a reference count and a borrow flag to take and give
/// back, and a closure), 30 to 35 ns more per call: a sixth of a warm
/// `increment`.
///
/// # Safety
/// `core` is the `Core` of a document that is not freed, and no other call
/// on that document is running. pkg/doc.js makes sure of both: it checks
/// that a `Doc` is not freed before each call, and refuses calls from the
/// clock, the one callback that can run during a call.
#[no_mangle]
pub unsafe extern "C" fn hot_increment(core: *mut Core, key_len: usize, delta: f64, flags: u32) -> u32 {
    unsafe { hot(core, |c| c.increment(key_len, delta, flags)) }
}

/// `Core::input_buffer` (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_input_buffer(core: *mut Core, len: usize) -> *mut u8 {
    unsafe { core.as_mut() }.map_or(core::ptr::null_mut(), |c| c.input_buffer(len))
}

/// `Core::commit`, 1 or 0 (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_commit(core: *mut Core, encode: u32) -> u32 {
    unsafe { hot(core, |c| u32::from(c.commit(encode != 0))) }
}

/// `Core::take_update` (see [`hot_increment`]): an update listener takes
/// every local transaction's update, so this runs once per write of an
/// app that syncs.
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_take_update(core: *mut Core) -> usize {
    unsafe { hot(core, |c| c.take_update()) }
}

/// `Core::last_changes` (see [`hot_increment`]): once per write or applied
/// update, with a change listener.
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_last_changes(core: *mut Core) -> usize {
    unsafe { hot(core, |c| c.last_changes()) }
}

/// Where the output of the last hot call that returned text or bytes is,
/// valid until the next call on the document: pkg/doc.js copies it out
/// at once, as wasm-bindgen would, without a call to free it.
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_out(core: *mut Core) -> *const u8 {
    // SAFETY: the caller's.
    unsafe { core.as_ref() }.map_or(core::ptr::null(), |c| c.out.as_ptr())
}

/// `Core::counter` (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_counter(core: *mut Core, key_len: usize) -> f64 {
    unsafe { hot(core, |c| c.counter(key_len)) }
}

/// `Core::delete` (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_delete(core: *mut Core, key_len: usize, flags: u32) -> u32 {
    unsafe { hot(core, |c| c.delete(key_len, flags)) }
}

/// `Core::add` (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_add(core: *mut Core, key_len: usize, element_len: usize, flags: u32) -> u32 {
    unsafe { hot(core, |c| c.add(key_len, element_len, flags)) }
}

/// `Core::remove` (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_remove(core: *mut Core, key_len: usize, element_len: usize, flags: u32) -> u32 {
    unsafe { hot(core, |c| c.remove(key_len, element_len, flags)) }
}

/// `Core::has`, 1 or 0 (see [`hot_increment`]).
///
/// # Safety
/// See [`hot_increment`].
#[no_mangle]
pub unsafe extern "C" fn hot_has(core: *mut Core, key_len: usize, element_len: usize) -> u32 {
    unsafe { hot(core, |c| u32::from(c.has(key_len, element_len))) }
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
