// Type-checks a typical use of the package against pkg/index.d.ts (tsc --noEmit).
import { Doc, BroadcastSync, persist, wasmMemoryBytes, FORMAT_VERSION, type ChangeEvent, type EncodeOptions, type JsonValue, type Limits } from "slotkv";

const doc = new Doc({ clientId: "a", now: () => Date.now(), tombstoneRetentionMs: 1000 });
const loaded: Doc = Doc.load(doc.encodeState(), { clientId: "b" });
const limits: Limits = { maxUpdateBytes: 1 << 20, maxEntries: 10_000 };
const bounded = new Doc({ limits });
const id: string = doc.clientId;
doc.increment("clicks");
doc.increment("clicks", 5);
doc.decrement("clicks");
const total: number = doc.counter("clicks");
const slots: Record<string, number> = doc.counterSlots("clicks");
const value: JsonValue = { text: "hi", tags: ["a"], n: 1, ok: true, none: null };
doc.set("status", value);
doc.set("blob", new Uint8Array([1, 2]));
const got: unknown = doc.get("status");
doc.delete("status");
const info = doc.registerInfo("status");
const writer: string | undefined = info?.writer;
doc.add("s", "x");
doc.remove("s", "x");
const present: boolean = doc.has("s", "x");
const members: string[] = doc.members("s");
const keys: string[] = doc.keys("counter");
const json: { counters: Record<string, number>; registers: Record<string, unknown>; sets: Record<string, string[]> } = doc.toJSON();
doc.transact(() => doc.increment("a"), "origin");
const v: Uint8Array = doc.version();
loaded.applyUpdate(doc.encodeDelta(loaded.version()), "peer");
loaded.applyUpdate(doc.encodeDelta());
const forOlder: EncodeOptions = { format: 1 };
loaded.applyUpdate(doc.encodeDelta(loaded.version(), forOlder));
const newest: number = FORMAT_VERSION;
loaded.applyUpdate(doc.encodeDelta(undefined, { format: newest }));
loaded.applyUpdate(doc.encodeState());
const off1: () => void = doc.on("update", (update: Uint8Array, origin: unknown, local: boolean) => {});
const off2: () => void = doc.on("change", (e: ChangeEvent) => {
  const changed: string[] = [...e.counters, ...e.registers, ...e.sets];
  const local: boolean = e.local;
});
const sync = new BroadcastSync(doc, "channel", { heartbeatMs: 1000, timeoutMs: 5000 });
const peers: string[] = sync.peers;
sync.setPresence({ name: "Ann" });
const presence: Map<string, unknown> = sync.presence();
sync.on("presence", () => {});
sync.on("error", (e: Error) => {});
sync.close();
const bytes: number = wasmMemoryBytes();
async function saved() {
  const p = await persist(doc, "name");
  const writerTab: boolean = p.isWriter;
  await p.flush();
  await p.close();
}
doc.free();

// @ts-expect-error: kinds are a closed set
doc.keys("map");
// @ts-expect-error: events are a closed set
doc.on("changed", () => {});
// @ts-expect-error: a kind is required
doc.keys();
// @ts-expect-error: an update is bytes
doc.applyUpdate("update");
// @ts-expect-error: a format version is a number
doc.encodeDelta(undefined, { format: "1" });
// @ts-expect-error: clientId is read-only
doc.clientId = "other";
const nested: JsonValue = { a: [1, { b: null }], c: "" };
doc.set("nested", nested);
// set() takes what the SPEC says, `unknown`: a value typed by an interface
// (which has no index signature, so is no JsonValue) or of unknown type.
interface Status {
  text: string;
  by: string;
}
const status: Status = { text: "hi", by: "ann" };
doc.set("status", status);
const fromElsewhere: unknown = JSON.parse("[1]");
doc.set("parsed", fromElsewhere);
// @ts-expect-error: a key is a string
doc.set(1, "x");
const info2 = doc.registerInfo("status");
if (info2) {
  const when: number = info2.wall + info2.logical;
  const deleted: boolean = info2.deleted;
}

export { id, total, slots, got, writer, present, members, keys, json, v, off1, off2, peers, presence, bytes, saved };
