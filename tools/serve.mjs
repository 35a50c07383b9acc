// A static server for the demo: www/ at /, the npm package at /pkg/.
// Usage: node tools/serve.mjs [--port 8080] [--quiet]. Exported for tests.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

function resolvePath(urlPath) {
  const path = normalize(decodeURIComponent(urlPath)).replace(/^(\.\.[/\\])+/, "");
  const [base, rest] = path.startsWith("/pkg/") ? ["pkg", path.slice(5)] : ["www", path.slice(1)];
  const file = resolve(root, base, rest || "index.html");
  return file.startsWith(join(root, base)) ? file : null;
}

export function serve(port = 8080, host = "127.0.0.1") {
  const server = createServer(async (req, res) => {
    const file = resolvePath(new URL(req.url, "http://x").pathname);
    try {
      if (!file) throw new Error("outside the served folders");
      const body = await readFile(file.endsWith("/") ? join(file, "index.html") : file);
      res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--port");
  const port = Number(i > 0 ? process.argv[i + 1] : process.env.PORT ?? 8080);
  const server = await serve(port);
  console.log(`slotkv demo: http://127.0.0.1:${server.address().port}/  (open it in several tabs; Ctrl-C stops)`);
}
