#!/usr/bin/env node
// Connects to a Pier server's admin namespace with the official
// socket.io-client 4, with the options and CONNECT payload the
// @socket.io/admin-ui dashboard uses, next to an ordinary client on "/",
// and reports every admin event as JSON lines on stdout. Used by
// admin/admin_test.go through internal/browsertest.
//
//   node admin-client.js --url http://127.0.0.1:PORT --scenario NAME
//        [--username U --password P] [--transports polling,websocket]
//
// Lines: {"event":"admin","name":"<event>","args":[…]} for each admin event
// (in arrival order, events delivered before CONNECT included),
// {"event":"admin_connect"}, {"event":"connect_error","message":…},
// {"event":"app_connect","id":…}, {"event":"app_disconnect","reason":…},
// {"event":"app_rooms","rooms":[…]}, {"event":"app_news","args":[…]},
// then {"event":"done","ok":true|false,"error":…}.
//
// Scenarios:
//   badauth   the admin login must fail with connect_error.
//   commands  app client connects and says hello; the admin makes it join
//             "from-ui", emits "news" to it, then disconnects it.
//   readonly  same commands; the app socket must stay untouched.
//   cluster   the app client connects to another server (--app-url) of the
//             same Redis cluster: the admin sees both servers' stats, the
//             remote socket's events, lists it in a later all_sockets, and
//             its join command reaches it.
'use strict';

const { parseArgs } = require('util');
const { io } = require('socket.io-client');

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    scenario: { type: 'string' },
    username: { type: 'string', default: '' },
    password: { type: 'string', default: '' },
    transports: { type: 'string', default: 'polling,websocket' },
    'app-url': { type: 'string' },
  },
});

let finished = false;
function out(o) { if (!finished) process.stdout.write(JSON.stringify(o) + '\n'); }
function done(ok, error) {
  out({ event: 'done', ok, error });
  finished = true;
  process.exit(ok ? 0 : 1);
}
setTimeout(() => done(false, 'global timeout'), 20000).unref();

const seen = [];
const waiters = [];
// waitFor resolves with the first admin event (seen or to come) that pred accepts.
function waitFor(what, pred, ms = 8000) {
  const hit = seen.find(pred);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve, reject) => {
    const w = { pred, resolve };
    waiters.push(w);
    setTimeout(() => reject(new Error('timed out waiting for ' + what)), ms).unref();
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function connectAdmin(record = true) {
  const sock = io(args.url + '/admin', {
    forceNew: true,
    reconnection: false,
    withCredentials: true,
    transports: args.transports.split(','),
    path: '/socket.io',
    auth: { username: args.username, password: args.password },
  });
  sock.onAny((name, ...a) => {
    if (!record) return;
    const ev = { name, args: a };
    seen.push(ev);
    out({ event: 'admin', name, args: a });
    for (const w of waiters.splice(0)) {
      if (w.pred(ev)) w.resolve(ev); else waiters.push(w);
    }
  });
  return sock;
}

function connectApp() {
  const app = io(args['app-url'] || args.url, { forceNew: true, reconnection: false, transports: ['polling', 'websocket'] });
  app.on('news', (...a) => out({ event: 'app_news', args: a }));
  app.on('disconnect', (reason) => out({ event: 'app_disconnect', reason }));
  return new Promise((resolve, reject) => {
    app.on('connect', () => { out({ event: 'app_connect', id: app.id }); resolve(app); });
    app.on('connect_error', (e) => reject(e));
  });
}

function appRooms(app) {
  return new Promise((resolve) => app.emit('rooms', (rooms) => { out({ event: 'app_rooms', rooms }); resolve(rooms); }));
}

async function main() {
  const admin = connectAdmin();
  const connected = await new Promise((resolve) => {
    admin.on('connect', () => { out({ event: 'admin_connect', id: admin.id }); resolve(true); });
    admin.on('connect_error', (e) => { out({ event: 'connect_error', message: e.message }); resolve(false); });
  });
  if (args.scenario === 'badauth') {
    return done(!connected, connected ? 'admin connected with bad credentials' : undefined);
  }
  if (!connected) return done(false, 'admin login failed');
  await waitFor('config', (e) => e.name === 'config');
  await waitFor('server_stats', (e) => e.name === 'server_stats');
  if (args.scenario === 'cluster') return cluster(admin);

  const app = await connectApp();
  const appId = app.id; // app.id is cleared when it disconnects
  const news = new Promise((resolve) => app.once('news', resolve));
  app.emit('hello', 'a', { b: 1 });
  await news;
  if (args.scenario !== 'readonly') { // readonly runs in production mode: no per-socket events
    await waitFor('socket_connected', (e) => e.name === 'socket_connected' && e.args[0].id === appId);
    await waitFor('event_received', (e) => e.name === 'event_received' && e.args[1] === appId);
    await waitFor('event_sent', (e) => e.name === 'event_sent' && e.args[1] === appId);
  }

  if (args.scenario === 'commands') {
    // The app client moves to WebSocket; the dashboard hears of it.
    if (app.io.engine.transport.name !== 'websocket') await new Promise((r) => app.io.engine.once('upgrade', r));
    await waitFor('socket_updated', (e) => e.name === 'socket_updated' && e.args[0].id === appId && e.args[0].transport === 'websocket');
  }
  admin.emit('join', '/', 'from-ui', appId);
  admin.emit('emit', '/', appId, 'news', 'from-admin', 42);
  if (args.scenario === 'readonly') {
    await sleep(1500);
    const rooms = await appRooms(app);
    if (rooms.includes('from-ui')) return done(false, 'readonly server ran join');
    admin.emit('_disconnect', '/', false, appId);
    await sleep(1500);
    if (!app.connected) return done(false, 'readonly server ran _disconnect');
    await appRooms(app);
    app.disconnect();
    admin.disconnect();
    return done(true);
  }
  await waitFor('room_joined from-ui', (e) => e.name === 'room_joined' && e.args[1] === 'from-ui' && e.args[2] === appId);
  const rooms = await appRooms(app);
  if (!rooms.includes('from-ui')) return done(false, 'join had no effect: ' + JSON.stringify(rooms));
  admin.emit('_disconnect', '/', false, appId);
  await waitFor('socket_disconnected', (e) => e.name === 'socket_disconnected' && e.args[1] === appId);
  await waitFor('room_left', (e) => e.name === 'room_left' && e.args[1] === 'from-ui' && e.args[2] === appId);
  await sleep(100);
  app.close();
  admin.disconnect();
  done(true);
}

async function cluster(admin) {
  await waitFor('server_stats of B', (e) => e.name === 'server_stats' && e.args[0].serverId === 'B');
  await waitFor('server_stats of A', (e) => e.name === 'server_stats' && e.args[0].serverId === 'A');
  const app = await connectApp();
  const appId = app.id;
  await waitFor('socket_connected', (e) => e.name === 'socket_connected' && e.args[0].id === appId);
  admin.emit('join', '/', 'from-ui', appId);
  await waitFor('room_joined from-ui', (e) => e.name === 'room_joined' && e.args[1] === 'from-ui' && e.args[2] === appId);
  const rooms = await appRooms(app);
  if (!rooms.includes('from-ui')) return done(false, 'join did not reach the other server');
  // A second dashboard gets the remote socket in its list.
  const second = connectAdmin(false);
  const all = await new Promise((resolve) => second.on('all_sockets', resolve));
  const remote = all.find((s) => s.id === appId);
  out({ event: 'remote_socket', socket: remote || null });
  second.disconnect();
  app.close();
  admin.disconnect();
  done(!!remote, remote ? undefined : 'remote socket missing from all_sockets');
}

main().catch((e) => done(false, String(e && e.stack || e)));
