// The npm package as `npm pack` makes it: every module the shipped JS imports
// is in the tarball, and the packed package works in Node on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PKG = fileURLToPath(new URL("../../pkg/", import.meta.url));

// Relative module paths a file refers to: static imports and re-exports,
// dynamic imports, and files it loads next to itself (the wasm).
function relativeRefs(source) {
  const refs = new Set();
  for (const re of [/\bfrom\s*["'](\.[^"']+)["']/g, /\bimport\s*\(\s*["'](\.[^"']+)["']\s*\)/g, /\bimport\s*["'](\.[^"']+)["']/g, /new URL\(\s*["'](\.[^"']+)["']\s*,\s*import\.meta\.url/g]) {
    for (const m of source.matchAll(re)) refs.add(m[1].replace(/^\.\//, ""));
  }
  return [...refs];
}

test("the packed package holds every module its JS refers to, and works from the tarball", async () => {
  const dir = mkdtempSync(join(tmpdir(), "slotkv-pack-"));
  try {
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: PKG, encoding: "utf8" });
    const [{ filename, files }] = JSON.parse(out);
    const packed = new Set(files.map((f) => f.path));
    for (const f of ["package.json", "index.js", "node.js", "index.d.ts", "slotkv_wasm_bg.wasm"]) assert.ok(packed.has(f), `${f} is packed`);

    execFileSync("tar", ["-xzf", join(dir, filename), "-C", dir]);
    const root = join(dir, "package");
    const shipped = readdirSync(root).filter((f) => f.endsWith(".js"));
    assert.ok(shipped.length >= 5, `shipped JS: ${shipped}`);
    for (const f of shipped) {
      for (const ref of relativeRefs(readFileSync(join(root, f), "utf8"))) {
        assert.ok(packed.has(ref), `${f} refers to ./${ref}, which the package does not ship`);
      }
    }

    // The package's Node entry, from the unpacked tarball only.
    const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const { Doc, BroadcastSync, persist } = await import(pathToFileURL(join(root, meta.exports["."].node)).href);
    assert.equal(typeof persist, "function");
    const channel = `pack-${Math.random().toString(36).slice(2)}`;
    const a = new Doc({ clientId: "a" });
    const b = new Doc({ clientId: "b" });
    const syncs = [new BroadcastSync(a, channel), new BroadcastSync(b, channel)];
    a.increment("clicks", 2);
    b.increment("clicks", 3);
    const end = Date.now() + 5000;
    while (!(a.counter("clicks") === 5 && b.counter("clicks") === 5)) {
      if (Date.now() > end) assert.fail(`no convergence: a=${a.counter("clicks")} b=${b.counter("clicks")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const s of syncs) s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
