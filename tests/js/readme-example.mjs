// README.md's first JavaScript example, and what its comments say it prints.
import { readFileSync } from "node:fs";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
export const example = readme.match(/```js\n([\s\S]*?)```/)[1];
export const expected = [...example.matchAll(/^console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) => m[1]);
