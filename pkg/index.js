// slotkv for browsers and bundlers: loads its WebAssembly by itself.
import init from "./slotkv_wasm.js";
import { useWasm } from "./doc.js";

const wasm = await init({ module_or_path: new URL("./slotkv_wasm_bg.wasm", import.meta.url) });
useWasm(wasm);

/** Bytes of WebAssembly memory slotkv holds (diagnostics: grows with live documents). */
export const wasmMemoryBytes = () => wasm.memory.buffer.byteLength;

export { Doc, FORMAT_VERSION } from "./doc.js";
export { BroadcastSync } from "./broadcast.js";
export { persist } from "./persist.js";
