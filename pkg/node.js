// slotkv for Node >= 20: reads its WebAssembly from disk (fetch cannot load file: URLs).
import { readFileSync } from "node:fs";
import { initSync } from "./slotkv_wasm.js";

initSync({ module: readFileSync(new URL("./slotkv_wasm_bg.wasm", import.meta.url)) });

export { Doc } from "./doc.js";
export { BroadcastSync } from "./broadcast.js";
export { persist } from "./persist.js";
