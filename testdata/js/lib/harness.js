// Shared by the interop scripts: the JSON-lines protocol the Go tests read
// (internal/jstest) and argument parsing that reports bad arguments on it.
'use strict';

const { parseArgs } = require('util');

let doneWritten = false;

// out writes one event as a JSON line; "done" is always the last line.
function out(obj) {
  if (doneWritten) return;
  if (obj.event === 'done') doneWritten = true;
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// cli parses the command line with the given parseArgs options, or ends
// the run with a "done" failure and exit code 2.
function cli(options) {
  try {
    return parseArgs({ options, strict: true }).values;
  } catch (e) {
    out({ event: 'done', ok: false, error: 'bad arguments: ' + e.message });
    process.exit(2);
  }
}

module.exports = { out, cli };
