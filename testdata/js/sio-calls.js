#!/usr/bin/env node
// Emits a list of events with acknowledgements, one after the other, with
// the official socket.io-client 4.8 or 2.0, and reports the answers. Used by
// socketio tests of server features the client sees through plain emits
// (typed handlers, compression, handshake fields).
//
//   node sio-calls.js --url http://127.0.0.1:PORT --client 4|2 \
//        --transports T --calls '[["event", arg, ...], ...]' [--wait N] \
//        [--answer EVENT]
//
// With --answer, the client acknowledges each EVENT it receives with
// {"answer": [its arguments]}.
// Output lines: {"event":"ack","i":0,"args":[...]} for each call answered,
// {"event":"no-ack","i":0} for one not answered within --ack-ms (default
// 3000), {"event":"recv","name":"…","args":[...]} for each event the server
// sent (the run ends once --wait of them arrived, default 0), then
// {"event":"done","ok":true}.
'use strict';

const { out, cli } = require('./lib/harness');

const args = cli({
  url: { type: 'string' },
  client: { type: 'string', default: '4' },
  transports: { type: 'string', default: 'websocket' },
  calls: { type: 'string', default: '[]' },
  wait: { type: 'string', default: '0' },
  'ack-ms': { type: 'string', default: '3000' },
  answer: { type: 'string' },
});
const fail = (e) => {
  out({ event: 'done', ok: false, error: String(e && e.stack ? e.stack : e) });
  process.exit(1);
};
setTimeout(() => fail('timeout'), 20000).unref();

async function main() {
  const transports = args.transports.split(',');
  const socket = args.client === '2'
    ? require('socket.io-client-v2')(args.url, { transports, reconnection: false })
    : require('socket.io-client').io(args.url, { transports, reconnection: false });
  let received = 0;
  let wake = () => {};
  const onEvent = (name, ...a) => {
    out({ event: 'recv', name, args: a });
    received++;
    wake();
  };
  if (socket.onAny) {
    socket.onAny(onEvent);
  } else {
    // socket.io-client 2 has no onAny: wrap its packet handler.
    const onevent = socket.onevent;
    socket.onevent = function (packet) {
      onEvent(...(packet.data || []));
      return onevent.call(this, packet);
    };
  }
  if (args.answer) {
    socket.on(args.answer, (...a) => {
      const cb = a.pop();
      if (typeof cb === 'function') cb({ answer: a });
    });
  }
  socket.on('connect_error', (e) => fail('connect_error: ' + (e && e.message)));
  await new Promise((resolve) => socket.once('connect', resolve));
  out({ event: 'connect', id: socket.id });
  const calls = JSON.parse(args.calls);
  for (let i = 0; i < calls.length; i++) {
    const res = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), Number(args['ack-ms']));
      socket.emit(...calls[i], (...a) => {
        clearTimeout(t);
        resolve(a);
      });
    });
    out(res ? { event: 'ack', i, args: res } : { event: 'no-ack', i });
  }
  const want = Number(args.wait);
  while (received < want) await new Promise((resolve) => { wake = resolve; });
  out({ event: 'done', ok: true });
  socket.close();
  process.exit(0);
}

main().catch(fail);
