#!/usr/bin/env node
// A plain Node `http` backend (no framework) for upstream/e2e_test.go: Pier
// sends sails.io.js virtual requests to it. Prints {"port":N} on stdout once
// listening on 127.0.0.1 (port 0 unless --port). Routes:
//   POST /login       201 JSON {user, seen}, Set-Cookie sid=<user>-token, X-Backend: node
//   POST /logout      204, Set-Cookie sid=; Max-Age=0
//   GET  /whoami      200 JSON {cookie, seen}
//   PUT  /echo/put    200 JSON {body, seen}
//   GET  /redirect    302 Location: /elsewhere
//   GET  /text        200 text/html
//   GET  /bad-json    200 application/json that is not JSON
//   GET  /huge        200 application/json, 64 MiB, chunked
//   GET  /slow        never answers
//   GET  /reset       destroys the connection
//   GET  /huge-announced  200 application/json announcing 64 MiB, sends 5 bytes
//   GET  /slow-body   200 application/json, part of the body, then nothing
//   GET  /cut         200 application/json announcing 1000 bytes, part of
//                     the body, then resets the connection
//   POST /connect     Pier's connect hook: 403 {"message":"denied"} when
//                     the handshake's cookie holds deny=1, else 200 {}
//   POST /subscribe   joins the calling socket (X-Socket-Id) to room "news"
//                     through Pier's API (X-Pier-Api, X-Pier-Key headers),
//                     emits "news" there, answers {joined, emitted} statuses
//   anything else     404 JSON {error}
// "seen" is what the backend saw: method, url, and the headers Pier adds.
'use strict';

const http = require('http');

function seen(req) {
  const h = req.headers;
  return {
    method: req.method, url: req.url, xff: h['x-forwarded-for'] || null, xfproto: h['x-forwarded-proto'] || null,
    xfhost: h['x-forwarded-host'] || null, socketId: h['x-socket-id'] || null, requestId: h['x-request-id'] || null,
    cookie: h.cookie || null, contentType: h['content-type'] || null, client: h['x-client'] || null,
  };
}

// pier calls Pier's sockets API and resolves with the status.
function pier(req, call, body) {
  return new Promise((resolve) => {
    const u = new URL(req.headers['x-pier-api'] + call);
    const data = JSON.stringify(body);
    const r = http.request(u, {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + req.headers['x-pier-key'], 'Content-Type': 'application/json' },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    r.on('error', () => resolve(0));
    r.end(data);
  });
}

function json(res, status, v, headers = {}) {
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json; charset=utf-8' }, headers));
  res.end(JSON.stringify(v));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = null;
    const raw = Buffer.concat(chunks).toString();
    if (raw) { try { body = JSON.parse(raw); } catch (e) { body = { unparsable: raw }; } }
    const path = req.url.split('?')[0];
    const route = req.method + ' ' + path;
    switch (route) {
      case 'POST /login':
        return json(res, 201, { user: body && body.user, seen: seen(req) }, {
          'Set-Cookie': ['sid=' + (body && body.user) + '-token; Path=/; HttpOnly', 'theme=dark; Path=/'],
          'X-Backend': 'node',
        });
      case 'POST /logout':
        res.writeHead(204, { 'Set-Cookie': 'sid=; Path=/; Max-Age=0' });
        return res.end();
      case 'GET /whoami':
        return json(res, 200, { cookie: req.headers.cookie || null, seen: seen(req) });
      case 'PUT /echo/put':
        return json(res, 200, { body, seen: seen(req) });
      case 'POST /subscribe': {
        const sid = req.headers['x-socket-id'];
        return (async () => {
          const joined = await pier(req, '/join', { sockets: [sid], join: ['news'] });
          const emitted = await pier(req, '/emit', { rooms: ['news'], event: 'news', data: { room: 'news', to: sid } });
          json(res, 200, { joined, emitted });
        })();
      }
      case 'GET /redirect':
        res.writeHead(302, { Location: '/elsewhere' });
        return res.end();
      case 'GET /text':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        return res.end('<p>hi</p>');
      case 'GET /bad-json':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end('{"a":1,');
      case 'GET /huge': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const block = Buffer.alloc(64 * 1024, 0x20);
        let left = 1024; // 64 MiB
        const write = () => {
          while (left > 0) {
            left--;
            if (!res.write(block)) return res.once('drain', write);
          }
          res.end();
        };
        res.on('close', () => { left = 0; });
        return write();
      }
      case 'GET /slow':
        return; // never answers
      case 'GET /reset':
        return req.socket.destroy();
      case 'GET /huge-announced':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(64 << 20) });
        return res.write('{"a":'); // and never more
      case 'GET /slow-body':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.write('{"a":'); // and never more
      case 'GET /cut':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
        return res.write('{"a":', () => req.socket.resetAndDestroy());
      case 'POST /connect': {
        const cookie = (body && body.headers && body.headers.cookie) || '';
        return /(^|;\s*)deny=1/.test(cookie) ? json(res, 403, { message: 'denied' }) : json(res, 200, {});
      }
      default:
        return json(res, 404, { error: 'no route for ' + route });
    }
  });
});

const portArg = process.argv.indexOf('--port');
server.listen(portArg > 0 ? Number(process.argv[portArg + 1]) : 0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
