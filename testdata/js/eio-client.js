#!/usr/bin/env node
// Drives the OFFICIAL engine.io-client against an Engine.IO echo server and
// reports what it saw as JSON lines on stdout. Used by Pier's Go interop tests
// through internal/jstest.
//
//   node eio-client.js --url http://127.0.0.1:PORT --eio 3|4 \
//        --transports polling|websocket|polling,websocket \
//        --scenario echo|binary|upgrade|heartbeat|close|server-close \
//        [--path /engine.io]
//
// The server is expected to echo every message back unchanged (text as text,
// binary as binary) and to close the session when it receives the text
// "please-close".
//
// Output: one JSON object per line, e.g.
//   {"event":"handshake","sid":"…","pingInterval":100,"pingTimeout":200,"upgrades":["websocket"]}
//   {"event":"open","transport":"polling","sid":"…","protocol":4}
//   {"event":"message","transport":"polling","binary":false,"type":"string","length":5,"sha256":"…","data":"hello"}
//   {"event":"upgrade","transport":"websocket"}
//   {"event":"ping"} / {"event":"pong"}
//   {"event":"close","reason":"transport close"}
//   {"event":"done","ok":true} or {"event":"done","ok":false,"error":"…"}
// Message "data" is the text itself, or hex for binary; it is left out (and
// "truncated":true is set) when the payload exceeds 1024 bytes. "length" is the
// UTF-8 byte length for text, the byte length for binary; "sha256" is over the
// same bytes. The exit code is 0 only when the scenario's expectations held.
'use strict';

const crypto = require('crypto');
const { out, cli } = require('./lib/harness');

const GLOBAL_TIMEOUT_MS = 10000;
const SERVER_CLOSE_TIMEOUT_MS = 3000;
const HEARTBEAT_IDLE_MS = 1200;
const MAX_INLINE_BYTES = 1024;


const args = cli({
  url: { type: 'string' },
  eio: { type: 'string', default: '4' },
  transports: { type: 'string', default: 'polling,websocket' },
  scenario: { type: 'string' },
  path: { type: 'string', default: '/engine.io' },
});

const SCENARIOS = ['echo', 'binary', 'upgrade', 'heartbeat', 'close', 'server-close'];
const eio = Number(args.eio);
const transports = String(args.transports).split(',').map((s) => s.trim()).filter(Boolean);
{
  let err = null;
  if (!args.url) err = '--url is required';
  else if (eio !== 3 && eio !== 4) err = '--eio must be 3 or 4';
  else if (!SCENARIOS.includes(args.scenario)) err = '--scenario must be one of ' + SCENARIOS.join(', ');
  else if (transports.length === 0 || transports.some((t) => t !== 'polling' && t !== 'websocket')) {
    err = '--transports must be polling, websocket or polling,websocket';
  } else if (args.scenario === 'upgrade' && !(transports[0] === 'polling' && transports.includes('websocket'))) {
    err = 'scenario upgrade needs --transports polling,websocket';
  }
  if (err) {
    out({ event: 'done', ok: false, error: err });
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------
// Client construction.

let socket;
{
  const opts = {
    path: args.path,
    transports,
    upgrade: transports.length > 1,
  };
  if (eio === 4) {
    const { Socket } = require('engine.io-client');
    socket = new Socket(args.url, opts);
  } else {
    // engine.io-client 3.1.x, the version socket.io-client@2.0.3 resolves to.
    // forceBase64:false is the default (binary support as the client itself
    // decides it): the websocket transport sends binary frames, while the
    // polling transport in Node (xmlhttprequest-ssl has no responseType, so no
    // XHR2) falls back to base64 and adds b64=1 to its requests.
    const Socket = require('engine.io-client-v3');
    opts.forceBase64 = false;
    socket = new Socket(args.url, opts);
  }
}

// ---------------------------------------------------------------------------
// Helpers.

function toBuffer(data) {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

function describe(data) {
  const buf = toBuffer(data);
  const binary = buf !== null;
  const bytes = binary ? buf : Buffer.from(String(data), 'utf8');
  const ev = {
    event: 'message',
    transport: socket.transport ? socket.transport.name : null,
    binary,
    // What the client library handed over: string, Buffer, ArrayBuffer, ...
    type: typeof data === 'string' ? 'string' : Buffer.isBuffer(data) ? 'Buffer' : (data && data.constructor && data.constructor.name) || typeof data,
    length: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
  };
  if (bytes.length <= MAX_INLINE_BYTES) ev.data = binary ? buf.toString('hex') : String(data);
  else ev.truncated = true;
  return { ev, binary, bytes, text: binary ? null : String(data) };
}

function short(v) {
  const s = typeof v === 'string' ? v : String(v);
  return s.length > 60 ? s.slice(0, 60) + '…(' + s.length + ' chars)' : s;
}

let finished = false;
let closed = false;
let closeRequested = false;
const timers = [];

function later(fn, ms) {
  const t = setTimeout(fn, ms);
  timers.push(t);
  return t;
}

function finish(ok, error) {
  if (finished) return;
  finished = true;
  for (const t of timers) clearTimeout(t);
  const ev = { event: 'done', ok };
  if (!ok) ev.error = error || 'failed';
  out(ev);
  process.exitCode = ok ? 0 : 1;
  // Close politely so the server sees the session end, then let the event loop
  // drain; force the exit if some handle lingers.
  if (!closed) {
    try {
      socket.close();
    } catch (e) {
      // ignore
    }
  }
  setTimeout(() => process.exit(ok ? 0 : 1), ok ? 2000 : 200).unref();
}

function fail(error) {
  finish(false, error);
}

later(() => fail(`timeout: scenario ${args.scenario} not complete after ${GLOBAL_TIMEOUT_MS} ms`), GLOBAL_TIMEOUT_MS);

// Expectation queue: messages must arrive in order and equal these.
let expected = [];
let onAllReceived = null;

function expect(list, then) {
  expected = list.slice();
  onAllReceived = then;
}

function check(msg) {
  if (finished) return;
  if (expected.length === 0) {
    if (args.scenario === 'server-close') return; // anything goes until the close
    fail('unexpected message: ' + JSON.stringify(msg.ev));
    return;
  }
  const want = expected.shift();
  if (typeof want === 'string') {
    if (msg.binary) return fail(`expected text ${short(want)}, got binary (${msg.bytes.length} bytes)`);
    if (msg.text !== want) return fail(`expected text ${short(want)}, got ${short(msg.text)}`);
  } else {
    const wantBuf = toBuffer(want);
    if (!msg.binary) return fail(`expected binary (${wantBuf.length} bytes), got text ${short(msg.text)}`);
    if (!wantBuf.equals(msg.bytes)) {
      return fail(`binary mismatch: expected ${wantBuf.length} bytes, got ${msg.bytes.length} bytes`);
    }
  }
  if (expected.length === 0 && onAllReceived) {
    const f = onAllReceived;
    onAllReceived = null;
    f();
  }
}

function send(list) {
  for (const m of list) socket.send(m);
}

const nonASCII = 'héllo ✓ 😀';
const bigText = (() => {
  const unit = 'pier-engine.io-interop-0123456789abcdefghijklmnopqrstuvwxyz|'; // 60 bytes
  let s = '';
  while (s.length < 100 * 1024) s += unit;
  return s.slice(0, 100 * 1024);
})();
function bigBinary(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

// ---------------------------------------------------------------------------
// Events.

let pings = 0;
let pongs = 0;

socket.on('handshake', (d) => {
  out({
    event: 'handshake',
    sid: d.sid,
    upgrades: d.upgrades,
    pingInterval: d.pingInterval,
    pingTimeout: d.pingTimeout,
    ...(d.maxPayload !== undefined ? { maxPayload: d.maxPayload } : {}),
  });
});
socket.on('upgrade', (t) => out({ event: 'upgrade', transport: t && t.name }));
socket.on('upgradeError', (e) => {
  out({ event: 'upgradeError', error: String((e && e.message) || e) });
  if (args.scenario === 'upgrade') fail('upgrade failed: ' + String((e && e.message) || e));
});
// EIO4 clients emit 'ping' when the server pings them. EIO3 clients ping the
// server themselves: 'ping' after sending one, 'pong' when the answer arrives.
socket.on('ping', () => {
  pings++;
  out({ event: 'ping' });
});
socket.on('pong', () => {
  pongs++;
  out({ event: 'pong' });
});
socket.on('error', (e) => out({ event: 'error', error: String((e && e.message) || e) }));
socket.on('message', (data) => {
  const msg = describe(data);
  out(msg.ev);
  check(msg);
});
socket.on('close', (reason, desc) => {
  closed = true;
  const ev = { event: 'close', reason: String(reason || '') };
  if (desc !== undefined && desc !== null) {
    const d = desc.description !== undefined ? desc.description : desc;
    ev.description = String((d && d.message) || d);
  }
  out(ev);
  if (finished) return;
  if (args.scenario === 'close' || args.scenario === 'server-close') {
    if (!reason) return fail('close event without a reason');
    if (args.scenario === 'close' && !closeRequested) return fail('closed before socket.close(): ' + reason);
    return finish(true);
  }
  fail('unexpected close: ' + reason);
});

socket.on('open', () => {
  out({ event: 'open', transport: socket.transport.name, sid: socket.id, protocol: eio });
  switch (args.scenario) {
    case 'echo': {
      const list = ['hello', nonASCII, bigText];
      expect(list, () => finish(true));
      send(list);
      break;
    }
    case 'binary': {
      const list = [new Uint8Array([1, 2, 3, 4]), bigBinary(64 * 1024)];
      expect(list, () => finish(true));
      send(list);
      break;
    }
    case 'upgrade': {
      socket.once('upgrade', () => {
        const name = socket.transport.name;
        if (name !== 'websocket') return fail('after upgrade the transport is ' + name);
        const list = ['over websocket ' + nonASCII, new Uint8Array([5, 6, 7, 8, 0, 255])];
        expect(list, () => {
          if (socket.transport.name !== 'websocket') return fail('transport changed to ' + socket.transport.name);
          finish(true);
        });
        send(list);
      });
      break;
    }
    case 'heartbeat': {
      later(() => {
        const n = eio === 4 ? pings : pongs;
        const what = eio === 4 ? 'ping events (server pings)' : 'pong events (answers to client pings)';
        out({ event: 'heartbeat', pings, pongs });
        if (n < 2) return fail(`only ${n} ${what} in ${HEARTBEAT_IDLE_MS} ms`);
        expect(['still-here'], () => finish(true));
        send(['still-here']);
      }, HEARTBEAT_IDLE_MS);
      break;
    }
    case 'close': {
      expect(['before-close'], () => {
        closeRequested = true;
        socket.close();
        // Both client versions emit 'close' synchronously from close().
        if (!closed) later(() => fail('no close event after socket.close()'), 1000);
      });
      send(['before-close']);
      break;
    }
    case 'server-close': {
      send(['please-close']);
      later(() => fail(`server did not close the session within ${SERVER_CLOSE_TIMEOUT_MS} ms`), SERVER_CLOSE_TIMEOUT_MS);
      break;
    }
  }
});
