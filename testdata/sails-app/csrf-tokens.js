#!/usr/bin/env node
// Checks CSRF tokens against the csrf package Sails 1.5 uses (csrf 3.1.0,
// through @sailshq/csurf): makes a secret and a token with it, and verifies
// a token made elsewhere (by sailsbridge/kit) for a given secret.
//
//   node csrf-tokens.js --secret S --token T
//
// Prints {"event":"tokens","secret":…,"token":…,"valid":bool} and
// {"event":"done","ok":true}.
'use strict';
const { parseArgs } = require('util');
const Tokens = require('csrf');
const { secret, token } = parseArgs({ options: { secret: { type: 'string' }, token: { type: 'string' } } }).values;
const tokens = new Tokens();
const mine = tokens.secretSync();
process.stdout.write(JSON.stringify({ event: 'tokens', secret: mine, token: tokens.create(mine), valid: tokens.verify(secret, token) }) + '\n');
process.stdout.write(JSON.stringify({ event: 'done', ok: true }) + '\n');
