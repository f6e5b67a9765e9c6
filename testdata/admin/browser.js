#!/usr/bin/env node
// Drives Debian's chromium (never a downloaded browser) with playwright-core
// against a Pier server started by cmd/pier/browser_test.go, saves
// screenshots, and reports what the pages showed as JSON lines on stdout.
//
//   node browser.js --scenario admin-ui|demo --url http://127.0.0.1:PORT
//        --out DIR [--ui /admin-ui/ --username U --password P]
//
// admin-ui: log in to the @socket.io/admin-ui dashboard served by Pier,
//           with the demo page open in another tab, then read the Sockets,
//           Rooms and Servers pages, join the demo's socket to the room
//           "from-ui" with the socket page's form, and reload to check the
//           login is kept.
// demo:     two users (separate browser contexts) chat on the demo page;
//           one reloads and its visit counter must go up.
// Lines: {"event":"page","name":…,"text":…,"screenshot":…}, scenario
// events, then {"event":"done","ok":…,"error":…}. Exit 0 only when ok.
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const { chromium } = require('playwright-core');

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string' },
    url: { type: 'string' },
    out: { type: 'string' },
    ui: { type: 'string', default: '/admin-ui/' },
    username: { type: 'string', default: '' },
    password: { type: 'string', default: '' },
  },
});

let finished = false;
function out(o) { if (!finished) process.stdout.write(JSON.stringify(o) + '\n'); }
let browser;
let current; // the page a failure screenshot shows
async function done(ok, error) {
  out({ event: 'done', ok, error });
  finished = true;
  if (browser) await browser.close().catch(() => {});
  process.exit(ok ? 0 : 1);
}
setTimeout(() => done(false, 'global timeout'), 90000).unref();

const STEP = 20000; // generous: the machine may be loaded

async function launch() {
  // A fresh profile per run: playwright gives launch() a new temporary
  // --user-data-dir and removes it on close; the flags keep chromium quiet.
  return chromium.launch({
    executablePath: process.env.PIER_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function shot(page, name) {
  const file = path.join(args.out, name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  const text = await page.locator('body').innerText();
  out({ event: 'page', name, text, screenshot: file });
  return text;
}

// waitText waits until the text of selector contains every string.
async function waitText(page, selector, strings, ms = STEP) {
  await page.waitForFunction(([sel, want]) => {
    const el = document.querySelector(sel);
    return !!el && want.every((w) => el.innerText.includes(w));
  }, [selector, strings], { timeout: ms });
}

async function adminUI() {
  const demoCtx = await browser.newContext();
  const demo = await demoCtx.newPage();
  await demo.goto(args.url + '/');
  await waitText(demo, '#log', ['joined the chat room']);
  const demoId = await demo.evaluate(() => io.socket._raw.id);
  out({ event: 'demo_socket', id: demoId });

  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  current = page;
  page.on('console', (m) => { if (m.type() === 'error') out({ event: 'console', text: m.text() }); });
  await page.goto(args.url + args.ui);
  const inputs = page.locator('.v-dialog--active input');
  await inputs.first().waitFor({ state: 'visible', timeout: STEP });
  await inputs.nth(0).fill(args.url);
  await inputs.nth(1).fill(args.username);
  await inputs.nth(2).fill(args.password);
  await page.locator('.v-dialog--active button[type=submit]').click();
  await page.locator('.v-dialog--active').waitFor({ state: 'detached', timeout: STEP });
  out({ event: 'logged_in' });

  await page.evaluate(() => { location.hash = '#/sockets/'; });
  // Namespace "/" is selected: the demo page's socket is listed, upgraded.
  await waitText(page, 'main', [demoId, 'WebSocket']);
  const sockets = await shot(page, 'admin-sockets');
  const rows = await page.locator('main tbody tr').count();
  out({ event: 'sockets', rows, text: sockets });

  await page.evaluate(() => { location.hash = '#/rooms/'; });
  await waitText(page, 'main', ['chat']);
  out({ event: 'rooms', text: await shot(page, 'admin-rooms') });

  await page.evaluate(() => { location.hash = '#/servers/'; });
  await waitText(page, 'main', ['HEALTHY']);
  out({ event: 'servers', text: await shot(page, 'admin-servers') });

  // The demo socket's page, from its row on the Sockets page: join it to a
  // room with the dashboard's "Join a room" menu.
  await page.evaluate(() => { location.hash = '#/sockets/'; });
  await waitText(page, 'main', [demoId]);
  await page.locator('main tbody tr', { hasText: demoId }).locator('td').first().click();
  await waitText(page, 'main', [demoId, 'Rooms', 'chat', 'Join a room']);
  await shot(page, 'admin-socket');
  const join = page.getByLabel('Join a room');
  await join.fill('from-ui');
  await join.locator('xpath=following::button[1]').click();
  await waitText(page, 'main', ['from-ui']);
  out({ event: 'ui_join', text: await shot(page, 'admin-socket-joined') });

  // The session sent after CONNECT is kept: a reload logs in again by itself.
  await page.reload();
  await page.evaluate(() => { location.hash = '#/sockets/'; });
  let relogged = true;
  try {
    await waitText(page, 'main', [demoId]);
  } catch (e) {
    relogged = false;
  }
  out({ event: 'reload', relogged, session: await page.evaluate(() => localStorage.getItem('session_id')) });
  await shot(page, 'admin-after-reload');
  return done(true);
}

// lastLog returns the text of the demo page's log.
const logText = (page) => page.locator('#log').innerText();

async function demoChat() {
  const pages = [];
  for (const who of ['alice', 'bob']) {
    const ctx = await browser.newContext({ viewport: { width: 900, height: 700 } });
    const page = await ctx.newPage();
    await page.goto(args.url + '/');
    await waitText(page, '#status', ['connected']);
    await waitText(page, '#log', ['joined the chat room']);
    await page.waitForFunction(() => /^\d+$/.test(document.querySelector('#visits').innerText), null, { timeout: STEP });
    pages.push({ who, page, ctx });
  }
  const say = async (p, text) => {
    await p.page.fill('#text', text);
    await p.page.press('#text', 'Enter');
  };
  await say(pages[0], 'hello from alice');
  await waitText(pages[1].page, '#log', ['hello from alice']);
  await say(pages[1], 'hi alice, bob here');
  await waitText(pages[0].page, '#log', ['hi alice, bob here']);
  out({ event: 'chat', alice: await logText(pages[0].page), bob: await logText(pages[1].page) });
  await shot(pages[0].page, 'demo-alice');
  await shot(pages[1].page, 'demo-bob');

  const visits = async (page) => Number(await page.locator('#visits').innerText());
  const before = await visits(pages[0].page);
  const cookies = (await pages[0].ctx.cookies()).map((c) => c.name);
  await pages[0].page.reload();
  await waitText(pages[0].page, '#log', ['joined the chat room']);
  await pages[0].page.waitForFunction(() => /^\d+$/.test(document.querySelector('#visits').innerText), null, { timeout: STEP });
  const after = await visits(pages[0].page);
  out({ event: 'reload', before, after, cookies });
  await shot(pages[0].page, 'demo-alice-reloaded');
  // Still in the chat after the reload.
  await say(pages[1], 'welcome back');
  await waitText(pages[0].page, '#log', ['welcome back']);
  if (after !== before + 1) return done(false, `visit counter went from ${before} to ${after} on reload`);
  return done(true);
}

async function main() {
  fs.mkdirSync(args.out, { recursive: true });
  browser = await launch();
  out({ event: 'browser', version: browser.version() });
  if (args.scenario === 'admin-ui') return adminUI();
  if (args.scenario === 'demo') return demoChat();
  return done(false, 'unknown scenario ' + args.scenario);
}

main().catch(async (e) => {
  if (current) await shot(current, 'failure').catch(() => {});
  done(false, String(e && e.stack || e));
});
