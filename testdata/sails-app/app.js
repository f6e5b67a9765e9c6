#!/usr/bin/env node
// The reference Sails 1.5 app of Pier's kit tests: models User {name, pets:
// collection pet via owner} and Pet {name, owner: model user}, REST
// blueprints, an in-memory sails-disk datastore, and one custom route,
// GET /rooms, that answers the requesting socket's rooms (sorted, without
// its own id). It listens on a free port of 127.0.0.1 and prints
// {"event":"listening","port":N} on stdout; it stops when stdin closes.
'use strict';
process.chdir(__dirname);
const Sails = require('sails').constructor;
const app = new Sails();
const { serveSails } = require('../js/lib/sails-serve');
serveSails(app, {
  appPath: __dirname,
  port: 0,
  explicitHost: '127.0.0.1',
  environment: 'development',
  log: { level: 'error' },
  hooks: { grunt: false, views: false, i18n: false },
  models: { migrate: 'drop', datastore: 'default', attributes: {
    id: { type: 'number', autoIncrement: true },
    createdAt: { type: 'number', autoCreatedAt: true },
    updatedAt: { type: 'number', autoUpdatedAt: true },
  } },
  datastores: { default: { adapter: 'sails-disk', inMemoryOnly: true } },
  blueprints: { rest: true, shortcuts: false, actions: false },
  security: { csrf: false },
  session: { secret: 'pier-kit-test' },
  sockets: { onlyAllowOrigins: undefined },
  routes: {
    'GET /rooms': function (req, res) {
      if (!req.isSocket) return res.badRequest();
      const id = req._sails.sockets.getId(req);
      const s = req._sails.io.sockets.sockets.get(id);
      return res.json([...s.rooms].filter((r) => r !== id).sort());
    },
  },
});
