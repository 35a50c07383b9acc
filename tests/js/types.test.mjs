// pkg/index.d.ts matches the runtime: every declared member exists, and every
// public runtime member is declared. (tsc --noEmit on tests/types checks usage.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as slotkv from "slotkv";

const dts = readFileSync(new URL("../../pkg/index.d.ts", import.meta.url), "utf8");

function declaredMembers(className) {
  const body = dts.match(new RegExp(`export class ${className} \\{([\\s\\S]*?)\\n\\}`))[1];
  const names = new Set();
  for (const m of body.matchAll(/^\s+(?:static |readonly )?(\w+)[(?:<]/gm)) names.add(m[1]);
  names.delete("constructor");
  return names;
}

function runtimeMembers(cls) {
  const names = new Set(Object.getOwnPropertyNames(cls.prototype).filter((n) => n !== "constructor"));
  for (const n of Object.getOwnPropertyNames(cls)) if (typeof cls[n] === "function" && !["length", "name", "prototype"].includes(n)) names.add(n);
  return names;
}

for (const cls of ["Doc", "BroadcastSync"]) {
  test(`${cls}: declared and runtime members are the same`, () => {
    assert.deepEqual([...runtimeMembers(slotkv[cls])].sort(), [...declaredMembers(cls)].sort());
  });
}

test("every export is declared, and every declared export exists", () => {
  const declared = [...dts.matchAll(/^export (?:class|function|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(Object.keys(slotkv).sort(), declared);
});
