// A minimal app as a Vite user writes it: import the package by name, no init call.
import { Doc } from "slotkv";

const a = new Doc({ clientId: "a" });
const b = new Doc({ clientId: "b" });
a.increment("clicks");
b.increment("clicks");
b.applyUpdate(a.encodeDelta(b.version()));
a.applyUpdate(b.encodeDelta(a.version()));
document.getElementById("out").textContent = JSON.stringify(a.toJSON());
