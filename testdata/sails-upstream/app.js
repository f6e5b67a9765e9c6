#!/usr/bin/env node
// A small Sails 1.5 app that Pier's upstream tests talk to twice: directly
// with sails.io.js, and through `pier -upstream` (Pier sends the virtual
// requests to it over HTTP). It listens on a free port of 127.0.0.1,
// prints {"event":"listening","port":N} on stdout and stops when stdin
// closes.
//
//   node app.js [--redis redis://127.0.0.1:PORT]
//
// With --redis, sails-hook-sockets uses @sailshq/socket.io-redis (and its
// admin bus) on that server, as a Sails cluster does.
//
// beforeConnect refuses a handshake whose cookie holds deny=msg (message
// "denied-by-test") or deny=plain (no message: Sails says "Forbidden").
// POST /pier/connect is the same decision as Pier's connect hook.
//
// Routes (plain actions, no ORM):
//   GET    /hello            200 {hello, query}
//   POST|PUT|PATCH|DELETE /echo   200 {method, body, contentType}
//   GET    /status/:code     that status, {code}
//   GET    /headers          X-Custom: yes, {seen: the request's x-custom}
//   GET    /text             200 text/html "plain <b>text</b>"
//   POST   /login            201 {ok, user}, puts user in the session
//   GET    /whoami           200 {user} from the session
//   GET    /count            200 {n}, n counted in the session
//   GET    /setcookie        200 {}, Set-Cookie flavor=choc (res.cookie does not
//                            exist on Sails' virtual responses)
//   GET    /getcookie        200 {flavor} from the request's cookies
//   GET    /redirect         302 to /hello
//   GET    /notfound         res.notFound()
//   GET    /badrequest       res.badRequest({reason})
//   GET    /forbidden        res.forbidden()
//   GET    /servererror      res.serverError('boom')
//   GET    /throw            an action that throws
//   POST   /subscribe        joins the calling socket (X-Socket-Id when Pier
//                            forwarded the request, else the request's
//                            socket) to body.room with sails.sockets.join
//   POST   /publish          sails.sockets.broadcast(body.room, 'news', body.data)
'use strict';
process.chdir(__dirname);
const { parseArgs } = require('util');
const { values: args } = parseArgs({ options: { redis: { type: 'string' } } });
const Sails = require('sails').constructor;
const app = new Sails();
const { serveSails } = require('../js/lib/sails-serve');

function cookieDecision(cookie) {
  const m = /(?:^|;\s*)deny=([^;]*)/.exec(cookie || '');
  if (!m) return null;
  return m[1] === 'plain' ? '' : 'denied-by-test';
}

const sockets = {
  onlyAllowOrigins: undefined,
  transports: ['websocket', 'polling'],
  beforeConnect(handshake, cb) {
    const d = cookieDecision(handshake.headers.cookie);
    if (d === null) return cb(null, true);
    return cb(d || undefined, false);
  },
};
if (args.redis) {
  sockets.adapter = '@sailshq/socket.io-redis';
  sockets.url = args.redis;
}

const action = (fn) => function (req, res) { return fn(req, res); };
const routes = {
  'GET /hello': action((req, res) => res.json({ hello: 'world', query: req.query })),
  'GET /status/:code': action((req, res) => res.status(Number(req.param('code'))).json({ code: Number(req.param('code')) })),
  'GET /headers': action((req, res) => { res.set('X-Custom', 'yes'); return res.json({ seen: req.get('x-custom') || null }); }),
  'GET /text': action((req, res) => res.send('plain <b>text</b>')),
  'POST /login': action((req, res) => { req.session.user = req.body.user; return res.status(201).json({ ok: true, user: req.body.user }); }),
  'GET /whoami': action((req, res) => res.json({ user: req.session.user || null })),
  'GET /count': action((req, res) => { req.session.n = (req.session.n || 0) + 1; return res.json({ n: req.session.n }); }),
  'GET /setcookie': action((req, res) => { res.set('Set-Cookie', 'flavor=choc; Path=/'); return res.json({}); }),
  'GET /getcookie': action((req, res) => res.json({ flavor: (req.cookies && req.cookies.flavor) || null })),
  'GET /redirect': action((req, res) => res.redirect('/hello')),
  'GET /notfound': action((req, res) => res.notFound()),
  'GET /badrequest': action((req, res) => res.badRequest({ reason: 'missing name' })),
  'GET /forbidden': action((req, res) => res.forbidden()),
  'GET /servererror': action((req, res) => res.serverError('boom')),
  'GET /throw': action(() => { throw new Error('thrown by the action'); }),
  'POST /subscribe': action((req, res) => {
    const id = req.get('x-socket-id') || (req.isSocket ? app.sockets.getId(req) : null);
    if (!id) return res.badRequest({ error: 'no socket' });
    app.sockets.join(id, req.body.room, (err) => (err ? res.serverError(err) : res.json({ joined: req.body.room, id })));
  }),
  'POST /publish': action((req, res) => { app.sockets.broadcast(req.body.room, 'news', req.body.data); return res.json({ published: req.body.room }); }),
  'POST /pier/connect': action((req, res) => {
    const d = cookieDecision(req.body && req.body.headers && req.body.headers.cookie);
    if (d === null) return res.json({ data: { admitted: true } });
    return res.status(403).json(d ? { message: d } : {});
  }),
};
for (const verb of ['POST', 'PUT', 'PATCH', 'DELETE']) {
  routes[verb + ' /echo'] = action((req, res) => res.json({ method: req.method, body: req.body, contentType: req.get('content-type') || null }));
}

serveSails(app, {
  appPath: __dirname,
  port: 0,
  explicitHost: '127.0.0.1',
  environment: 'development',
  log: { level: 'error' },
  hooks: { grunt: false, views: false, i18n: false, orm: false, pubsub: false, blueprints: false },
  security: { csrf: false },
  session: { secret: 'pier-upstream-test' },
  sockets,
  routes,
});
