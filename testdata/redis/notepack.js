// Differential checks of Pier's internal/notepack against notepack.io 3.0.1.
//   node notepack.js vectors    prints {"name","hex","rt"} for JS values encoded by notepack
//                               (rt: notepack.encode(notepack.decode(hex)))
//   node notepack.js roundtrip  reads hex lines on stdin, prints {"in","out","error"} for each:
//                               notepack.encode(notepack.decode(in))
"use strict";
const notepack = require("notepack.io");

const vectors = {
  ints: [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53)],
  floats: [1.5, -0.25, 1e-7, 1e21, 1e300, -1e300, NaN, Infinity, -Infinity, -0, 2 ** 64, 2 ** 70, -(2 ** 64)],
  strings: ["", "a", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256), "y".repeat(65536), "é€😀", "\u0000\n"],
  binary: [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(256, 7), Buffer.alloc(65536, 9), new Uint8Array([4, 5]), new ArrayBuffer(2)],
  objects: [{}, { a: 1, b: undefined, c: null, d: () => 1 }, { nested: { deep: [1, { x: true }] } }, Object.fromEntries(Array.from({ length: 20 }, (_, i) => ["k" + i, i]))],
  arrays: [[], [undefined, null, false, true], Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 70000 }, () => 0)],
  dates: [new Date(0), new Date(1000), new Date(1500), new Date(-1500), new Date(17179869184000), new Date(17179869184001)],
  misc: [new Set([1]), new Map([[1, 2]]), { toJSON: () => "json" }],
  envelope: [["ni71p9", { type: 2, data: ["hello", "world", 1, 1.5, -2, 300, 70000, { nested: true }, null], nsp: "/" }, { rooms: [], except: [], flags: {} }]],
};

const mode = process.argv[2];
if (mode === "vectors") {
  for (const [group, values] of Object.entries(vectors)) {
    values.forEach((v, i) => {
      const b = notepack.encode(v);
      const rt = notepack.encode(notepack.decode(b)).toString("hex");
      process.stdout.write(JSON.stringify({ event: "vector", name: group + "/" + i, hex: b.toString("hex"), rt }) + "\n");
    });
  }
} else if (mode === "roundtrip") {
  const hexes = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
  for (const h of hexes) {
    try {
      const out = notepack.encode(notepack.decode(Buffer.from(h, "hex"))).toString("hex");
      process.stdout.write(JSON.stringify({ event: "roundtrip", in: h, out }) + "\n");
    } catch (e) {
      process.stdout.write(JSON.stringify({ event: "roundtrip", in: h, error: e.message }) + "\n");
    }
  }
} else {
  process.exit(2);
}
