// A small static server for the latency page: bench/latency/ at /, the npm package (../pkg) at /pkg/.
// Served cross-origin isolated (COOP + COEP) so performance.now() has 5 us resolution, not 100 us.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const PKG = resolve(here, "../pkg");
const MIME = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm" };

export function serve(port = 0, host = "127.0.0.1", pkgDir = PKG) {
  const ROOTS = { "/pkg/": resolve(pkgDir), "/": resolve(here, "latency") };
  const server = createServer(async (req, res) => {
    try {
      const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
      const prefix = path.startsWith("/pkg/") ? "/pkg/" : "/";
      const root = ROOTS[prefix];
      const file = resolve(root, path.slice(prefix.length) || "index.html");
      if (!file.startsWith(root + "/") && file !== root) throw new Error("outside");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-embedder-policy": "require-corp",
      });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok(server));
  });
}
