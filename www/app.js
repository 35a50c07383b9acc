import { Doc, BroadcastSync } from "slotkv";

const doc = new Doc();
const sync = new BroadcastSync(doc, "slotkv-demo");
const $ = (id) => document.getElementById(id);

$("me").textContent = doc.clientId;
$("plus").addEventListener("click", () => doc.increment("clicks"));

function render() {
  $("total").textContent = doc.counter("clicks");
}
doc.on("change", render);
render();

// For tests and the curious: the live objects.
Object.assign(globalThis, { slotkv: { doc, sync } });
