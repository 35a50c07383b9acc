// slotkv for Node >= 20: reads its WebAssembly from disk (fetch cannot load file: URLs).
import { readFileSync } from "node:fs";
import { initSync } from "./slotkv_wasm.js";
import { useWasm } from "./doc.js";

const wasm = initSync({ module: readFileSync(new URL("./slotkv_wasm_bg.wasm", import.meta.url)) });
useWasm(wasm);

/** Bytes of WebAssembly memory slotkv holds (diagnostics: grows with live documents). */
export const wasmMemoryBytes = () => wasm.memory.buffer.byteLength;

export { Doc, FORMAT_VERSION } from "./doc.js";
export { BroadcastSync } from "./broadcast.js";
export { persist } from "./persist.js";
