// README.md's example runs as written in Node and prints what its comments say.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { example, expected } from "./readme-example.mjs";

test("README example prints the documented results in Node", () => {
  assert.ok(expected.length >= 2);
  const file = fileURLToPath(new URL("./.readme-example.mjs", import.meta.url));
  writeFileSync(file, example);
  try {
    const out = execFileSync(process.execPath, [file], { encoding: "utf8" });
    assert.deepEqual(out.trimEnd().split("\n"), expected);
  } finally {
    rmSync(file, { force: true });
  }
});
