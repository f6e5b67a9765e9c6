// Shared by the Sails apps the Go tests run (testdata/sails-app,
// testdata/sails-upstream): loads a Sails app with config, starts it on a
// free port of 127.0.0.1, prints {"event":"listening","port":N} on stdout
// (what internal/jstest.Serve waits for) and lowers it when stdin closes.
// It requires nothing, so each app passes its own Sails instance.
'use strict';

function serveSails(app, config) {
  app.load(config, (err) => {
    if (err) die(err);
    app.config.port = 0; // lift would turn 0 into 1337
    app.initialize((err) => {
      if (err) die(err);
      process.stdout.write(JSON.stringify({ event: 'listening', port: app.hooks.http.server.address().port }) + '\n');
    });
  });
  process.stdin.on('end', () => app.lower(() => process.exit(0)));
  process.stdin.resume();
}

function die(err) {
  process.stderr.write(String(err.stack || err) + '\n');
  process.exit(1);
}

module.exports = { serveSails };
