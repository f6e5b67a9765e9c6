// The JSON-lines protocol between a Go test and a Node process it drives
// (cluster.js here, ../redis-legacy/server.js): one command per stdin line,
// {"id", "cmd", ...}; one answer per stdout line, {"id", "result"} or
// {"id", "error"}, and events {"event", ...}. Node builtins only, so that
// both projects can require it whatever their node_modules hold.
"use strict";

const readline = require("readline");

// ser turns what Node holds into JSON the Go side can read back exactly:
// binary as {$bin: hex}, undefined as {$undefined: true}, errors, sets, maps.
function ser(v, depth = 0) {
  if (depth > 50) return "<deep>";
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("hex") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
  if (v instanceof Error) return { $error: v.message };
  if (v instanceof Set) return [...v].map((x) => ser(x, depth + 1));
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, ser(x, depth + 1)]));
  if (Array.isArray(v)) return v.map((x) => ser(x, depth + 1));
  if (v === undefined) return { $undefined: true };
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = ser(v[k], depth + 1);
    return o;
  }
  return v;
}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// serve answers every command line with handle(msg) (a promise) and exits
// when stdin closes; it reports crashes as events.
function serve(handle) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      out({ event: "bad-command", error: e.message });
      return;
    }
    handle(msg).then(
      (result) => out({ id: msg.id, result: result === undefined ? null : result }),
      (err) => out({ id: msg.id, error: String((err && err.stack) || err) }),
    );
  });
  rl.on("close", () => process.exit(0));
  process.on("uncaughtException", (err) => {
    out({ event: "uncaught", error: String((err && err.stack) || err) });
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    out({ event: "unhandled", error: String((err && err.stack) || err) });
  });
  out({ event: "ready" });
}

module.exports = { ser, out, serve };
