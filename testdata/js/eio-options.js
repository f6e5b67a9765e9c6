#!/usr/bin/env node
// Drives the OFFICIAL engine.io-client (6.6.8 for --eio 4, 3.1.6 for --eio 3)
// against a server configured with Engine.IO options (cookie, generateId,
// header hooks, allowEIO3, transports) and reports what it saw as JSON lines
// on stdout. Used by engineio/options_interop_test.go through internal/jstest.
//
//   node eio-options.js --url http://127.0.0.1:PORT --eio 3|4 \
//        --transports polling|websocket|polling,websocket \
//        --scenario echo|refused [--with-credentials]
//
// echo: once open (and upgraded, when both transports are given) send
// "hello", expect it back, close. refused: expect an error before open.
// The server echoes every message.
//
// Output: {"event":"open","sid":"…","transport":"polling"},
// {"event":"upgrade","transport":"websocket"}, {"event":"message","data":"hello"},
// {"event":"error","error":"…","description":…}, then {"event":"done","ok":…}.
'use strict';

const { out, cli } = require('./lib/harness');

const args = cli({
  url: { type: 'string' },
  eio: { type: 'string', default: '4' },
  transports: { type: 'string', default: 'polling,websocket' },
  scenario: { type: 'string', default: 'echo' },
  'with-credentials': { type: 'boolean', default: false },
});

const transports = String(args.transports).split(',');
const opts = { transports, upgrade: transports.length > 1 };
let socket;
if (args.eio === '3') {
  const Socket = require('engine.io-client-v3');
  socket = new Socket(args.url, opts);
} else {
  const { Socket } = require('engine.io-client');
  opts.withCredentials = args['with-credentials'];
  socket = new Socket(args.url, opts);
}

function done(ok, error) {
  const ev = { event: 'done', ok };
  if (error) ev.error = error;
  out(ev);
  clearTimeout(timer);
  try {
    socket.close();
  } catch (e) {
    // closing a socket that never opened
  }
  setTimeout(() => process.exit(ok ? 0 : 1), 50);
}

const timer = setTimeout(() => done(false, 'timeout'), 10000);

socket.on('error', (e) => {
  const ev = { event: 'error', error: String((e && e.message) || e) };
  if (e && e.description !== undefined) ev.description = typeof e.description === 'object' ? String(e.description) : e.description;
  out(ev);
  if (args.scenario === 'refused') done(true);
  else done(false, 'error: ' + ev.error);
});

socket.on('open', () => {
  out({ event: 'open', sid: socket.id, transport: socket.transport.name });
  if (args.scenario === 'refused') {
    done(false, 'opened, want refused');
    return;
  }
  if (opts.upgrade) {
    socket.once('upgrade', (t) => {
      out({ event: 'upgrade', transport: t.name });
      socket.send('hello');
    });
  } else {
    socket.send('hello');
  }
});

socket.on('message', (data) => {
  out({ event: 'message', data: String(data) });
  if (String(data) === 'hello') done(true);
});
