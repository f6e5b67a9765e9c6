#!/usr/bin/env node
// Drives the real sails.io.js 1.2.1 (socket.io-client 2.0.3) through the
// blueprint transcript of a user/pet app, with four sockets: A (the actor),
// W (watches: GET /user), S (subscribes: GET /user/1) and N (idle until
// it populates). Run against the Sails app (app.js) and against its Go port;
// the Go test compares the two outputs.
//
//   node scenario.js --url http://127.0.0.1:PORT
//
// One JSON line per step: {"event":"step","name":…,"by":…,"statusCode":…,
// "body":…,"msgs":{"A":[…],…},"rooms":{…}}: msgs are the events each socket
// received during the step ([event name, data]), in arrival order, found
// by a barrier request per socket after the step (a socket's events arrive
// in emission order; "by" HTTP: the request went over HTTP); rooms, on some steps, the rooms of each socket
// (GET /rooms). Object keys are sorted and createdAt/updatedAt numbers are
// replaced with "<ts>", so that two runs compare as text. Then
// {"event":"done","ok":true}.
'use strict';
const { parseArgs } = require('util');
const sioV2 = require('socket.io-client');
const io = require('sails.io.js')(sioV2);
io.sails.autoConnect = false;
io.sails.environment = 'production';
io.sails.reconnection = false;
io.sails.transports = ['websocket'];

const { url } = parseArgs({ options: { url: { type: 'string' } } }).values;
function out(o) { process.stdout.write(JSON.stringify(o) + '\n'); }
function fail(e) { out({ event: 'done', ok: false, error: String(e && e.stack || e) }); process.exit(1); }
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
setTimeout(() => fail('global timeout'), 90000).unref();

function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  // Blueprint errors: only the code is compared (details and message
  // are prose).
  if (v && typeof v === 'object' && 'code' in v && 'message' in v) return { code: v.code };
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      o[k] = (k === 'createdAt' || k === 'updatedAt') && typeof v[k] === 'number' ? '<ts>' : canon(v[k]);
    }
    return o;
  }
  return v;
}

function connect(name) {
  const s = io.sails.connect(url, { transports: ['websocket'], reconnection: false });
  s.inbox = [];
  for (const ev of ['user', 'pet', 'tag']) s.on(ev, (d) => s.inbox.push([ev, canon(d)]));
  return new Promise((resolve, reject) => {
    s.on('connect', () => resolve(s));
    s.on('connect_error', reject);
  });
}

function request(s, method, path, data) {
  return new Promise((resolve) => s.request({ method, url: path, data }, (body, jwr) => resolve({ body, jwr })));
}

async function httpRequest(method, path, data) {
  const init = { method: method.toUpperCase(), headers: {} };
  if (data !== undefined) {
    init.body = JSON.stringify(data);
    init.headers['content-type'] = 'application/json';
  }
  const r = await fetch(url + path, init);
  const text = await r.text();
  let body = text;
  try { body = JSON.parse(text); } catch (e) { /* a text answer */ }
  return { body, jwr: { statusCode: r.status } };
}

async function main() {
  const socks = {};
  for (const n of ['A', 'W', 'S', 'N']) socks[n] = await connect(n);
  async function step(name, by, method, path, data, withRooms) {
    const { body, jwr } = by === 'HTTP' ? await httpRequest(method, path, data) : await request(socks[by], method, path, data);
    const msgs = {};
    const rooms = {};
    for (const n of Object.keys(socks)) {
      const r = await request(socks[n], 'get', '/rooms');
      if (withRooms) rooms[n] = r.body;
      msgs[n] = socks[n].inbox.splice(0);
    }
    const line = { event: 'step', name, by, statusCode: jwr.statusCode, body: canon(body), msgs };
    if (withRooms) line.rooms = rooms;
    out(line);
  }
  await step('watch empty', 'W', 'get', '/user', undefined, true);
  await step('create u1', 'A', 'post', '/user', { name: 'u1' }, true);
  await step('subscribe u1', 'S', 'get', '/user/1', undefined, true);
  await step('watch', 'W', 'get', '/user', undefined, true);
  await step('create p1', 'A', 'post', '/pet', { name: 'p1' }, true);
  await step('update u1', 'A', 'patch', '/user/1', { name: 'u1b' });
  await step('add p1 to u1', 'A', 'put', '/user/1/pets/1');
  await step('populate', 'N', 'get', '/user/1/pets', undefined, true);
  await step('create p2', 'A', 'post', '/pet', { name: 'p2' });
  await step('remove p2 not in u1', 'A', 'delete', '/user/1/pets/2');
  await step('add p2 to u1', 'A', 'put', '/user/1/pets/2');
  await step('create u2', 'A', 'post', '/user', { name: 'u2' });
  await step('move p2 to u2', 'A', 'put', '/user/2/pets/2');
  await step('update p2 owner', 'A', 'patch', '/pet/2', { owner: 1 });
  await step('update p2 owner string', 'A', 'patch', '/pet/2', { owner: '1' });
  await step('create p3 owned', 'A', 'post', '/pet', { name: 'p3', owner: 1 });
  await step('create u3 with pets', 'A', 'post', '/user', { name: 'u3', pets: [3] });
  await step('re-add p1 to u1', 'A', 'put', '/user/1/pets/1');
  await step('update nothing', 'A', 'patch', '/user/2', {});
  await step('update collection', 'A', 'patch', '/user/2', { pets: [1] });
  await step('find by name', 'N', 'get', '/user', { name: 'u2' });
  await step('find sorted', 'N', 'get', '/pet', { sort: 'id DESC', limit: 2 });
  await step('populate owner', 'N', 'get', '/pet/1/owner');
  await step('find one case', 'N', 'get', '/USER/01/');
  await step('missing', 'A', 'get', '/user/99');
  await step('missing update', 'A', 'patch', '/user/99', { name: 'x' });
  await step('missing add child', 'A', 'put', '/user/1/pets/99');
  await step('destroy p3', 'A', 'delete', '/pet/3', undefined, true);
  await step('destroy u1', 'A', 'delete', '/user/1', undefined, true);
  await step('not found route', 'A', 'get', '/nowhere');
  await step('http create', 'HTTP', 'post', '/user', { name: 'h1' });
  await step('http add', 'HTTP', 'put', '/user/4/pets/1');
  await step('http find', 'HTTP', 'get', '/pet?owner=4');
  await step('bad id', 'A', 'get', '/user/abc');
  await step('bad owner', 'A', 'post', '/pet', { name: 'x', owner: 'abc' });
  await step('destroy without id', 'A', 'delete', '/user');
  await step('bad skip', 'A', 'get', '/user', { skip: 'abc' });
  await step('unknown criteria', 'A', 'get', '/user', { bogusField: 1 });
  await step('path id wins', 'A', 'get', '/user/2?id=4', { id: 4 });
  await step('explicit id', 'A', 'post', '/user', { id: 50, name: 'u50' });
  await step('dangling owner', 'A', 'post', '/pet', { name: 'p9', owner: 999 }, true);
  await step('where', 'N', 'get', '/user', { where: JSON.stringify({ name: 'u50' }) });
  // Many-to-many: User.tags <-> Tag.users. (Replace is left out: on these
  // schema:false models Sails' replace action fails with a 500.)
  await step('create t1', 'A', 'post', '/tag', { name: 't1' }, true);
  await step('tag u2', 'A', 'put', '/user/2/tags/1');
  await step('subscribe t1', 'N', 'get', '/tag/1', undefined, true);
  await step('create t2 with users', 'A', 'post', '/tag', { name: 't2', users: [2, 50] });
  await step('create u60 with tags', 'A', 'post', '/user', { name: 'u60', tags: [1] });
  await step('re-tag u2', 'A', 'put', '/user/2/tags/1');
  await step('untag u2', 'A', 'delete', '/user/2/tags/2');
  await step('populate t2', 'S', 'get', '/tag/2/users', undefined, true);
  await step('update u50 tags', 'A', 'patch', '/user/50', { tags: [2] });
  await step('destroy t1', 'A', 'delete', '/tag/1', undefined, true);
  await step('destroy u50', 'A', 'delete', '/user/50', undefined, true);
  // Attribute types: name is a string.
  await step('number name', 'A', 'post', '/user', { name: 5 });
  await step('boolean name', 'A', 'patch', '/user/2', { name: true });
  await step('float name', 'A', 'patch', '/user/2', { name: 1.5 });
  await step('null name', 'A', 'post', '/user', { name: null });
  await step('object name', 'A', 'patch', '/user/2', { name: { a: 1 } });
  await step('array name', 'A', 'post', '/tag', { name: [1] });
  await step('no name', 'A', 'post', '/pet', {});
  await step('boolean owner', 'A', 'post', '/pet', { owner: true });
  await step('float owner', 'A', 'post', '/pet', { owner: 1.5 });
  for (const n of Object.keys(socks)) socks[n].disconnect();
  out({ event: 'done', ok: true });
  setTimeout(() => process.exit(0), 100).unref();
}
main().catch(fail);
