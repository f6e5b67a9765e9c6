'use strict';
// The Node side of Pier's session interop test (session/redisstore/interop_test.go):
// an express app with express-session and a Redis store, sharing a redis-server
// with Pier. It prints {"event":"listening","port":N} on stdout once it serves,
// then answers until its stdin closes, it is killed, or GET /shutdown.
//
// Flags:
//   --redis URL           redis://127.0.0.1:PORT (required)
//   --store NAME          connect-redis (9.x, node-redis 5) or sailshq
//                         (@sailshq/connect-redis 6.1.3 on node-redis 3, what Sails uses)
//   --prefix P            store key prefix (default "sess:")
//   --secret A[,B...]     express-session secret(s); the first signs
//   --name N              cookie name (default "connect.sid")
//   --max-age MS          cookie.maxAge (default: none, a browser-session cookie)
//   --resave, --save-uninitialized, --rolling   express-session options (default false)
//
// Routes (every answer is {id, session} where session is req.session as
// JSON, cookie included, or null once destroyed):
//   GET /get                      read only
//   GET /set?data=<json object>   Object.assign(req.session, data)
//   GET /passport?user=<string>   req.session.passport = {user}
//   GET /regenerate?data=<json>   req.session.regenerate, then assign data
//   GET /destroy                  req.session.destroy
//   GET /shutdown                 exit 0

const express = require('express');
const session = require('express-session');

function parseArgs(argv) {
  const out = {store: 'connect-redis', prefix: 'sess:', secret: 'keyboard cat', name: 'connect.sid'};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error('unexpected argument ' + a);
    const key = a.slice(2);
    if (key === 'resave' || key === 'save-uninitialized' || key === 'rolling') {
      out[key] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(a + ' needs a value');
    out[key] = argv[++i];
  }
  if (!out.redis) throw new Error('--redis is required');
  return out;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function makeStore(args) {
  if (args.store === 'connect-redis') {
    const {createClient} = require('redis');
    const {RedisStore} = require('connect-redis');
    const client = createClient({url: args.redis});
    client.on('error', (err) => console.error('redis client error:', err.message));
    await client.connect();
    return {store: new RedisStore({client, prefix: args.prefix}), close: () => client.quit()};
  }
  if (args.store === 'sailshq') {
    const redis = require('redis-v3');
    const RedisStore = require('@sailshq/connect-redis')(session);
    const client = redis.createClient(args.redis);
    client.on('error', (err) => console.error('redis client error:', err.message));
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
    return {store: new RedisStore({client, prefix: args.prefix}), close: () => client.quit()};
  }
  throw new Error('unknown --store ' + args.store);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const {store, close} = await makeStore(args);
  const cookie = {};
  if (args['max-age']) cookie.maxAge = Number(args['max-age']);
  const secrets = args.secret.split(',');

  const app = express();
  app.use(session({
    store,
    name: args.name,
    secret: secrets.length === 1 ? secrets[0] : secrets,
    resave: !!args.resave,
    saveUninitialized: !!args['save-uninitialized'],
    rolling: !!args.rolling,
    cookie,
  }));

  const reply = (req, res) => {
    res.json({id: req.sessionID, session: req.session || null});
  };
  const data = (req) => (req.query.data ? JSON.parse(req.query.data) : {});

  app.get('/get', reply);
  app.get('/set', (req, res) => {
    Object.assign(req.session, data(req));
    reply(req, res);
  });
  app.get('/passport', (req, res) => {
    req.session.passport = {user: req.query.user};
    reply(req, res);
  });
  app.get('/regenerate', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      Object.assign(req.session, data(req));
      reply(req, res);
    });
  });
  app.get('/destroy', (req, res, next) => {
    const id = req.sessionID;
    req.session.destroy((err) => {
      if (err) return next(err);
      res.json({id, session: null});
    });
  });
  app.get('/shutdown', (req, res) => {
    res.json({ok: true});
    setImmediate(async () => {
      await close();
      process.exit(0);
    });
  });
  app.use((err, req, res, next) => {
    console.error(err && err.stack ? err.stack : err);
    res.status(500).json({error: String(err && err.message ? err.message : err)});
  });

  // Exit when stdin closes: the Go test holds its other end, so a test
  // binary that dies takes this server with it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();

  const server = app.listen(Number(args.port || 0), '127.0.0.1', () => {
    emit({event: 'listening', port: server.address().port});
  });
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  emit({event: 'done', ok: false, error: String(err && err.message ? err.message : err)});
  process.exit(1);
});
