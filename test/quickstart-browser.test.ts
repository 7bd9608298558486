import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchBrowser, screenshot } from './support/index.js';
import { freePort } from './stack.js';

const REPO = new URL('..', import.meta.url).pathname;

/** The README's quickstart, driven by a real browser. */
describe('quickstart in headless Chromium', () => {
  let child: ChildProcess;
  let browser: Browser;
  let dir: string;
  let port: number;
  let output = '';

  /** Starts the quickstart on a free port; false when it exited first (the dev IdP's port+1 may be taken by another test). */
  const start = async (): Promise<boolean> => {
    port = await freePort();
    output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port), '--data', dir], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`quickstart did not start:\n${output}`)), 30_000);
      const on = (d: Buffer) => {
        output += d.toString();
        if (output.includes('sign in with any email')) { clearTimeout(timer); resolve(true); }
      };
      child.stdout!.on('data', on);
      child.stderr!.on('data', on);
      child.once('exit', () => { clearTimeout(timer); resolve(false); });
    });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-quickstart-'));
    let started = false;
    for (let attempt = 0; attempt < 3 && !started; attempt++) started = await start();
    assert.ok(started, `quickstart exited before it was ready:\n${output}`);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('start-up says where to go and that it is for development only', () => {
    assert.match(output, new RegExp(`Open http://app\\.localhost:${port}/`));
    assert.match(output, /DEVELOPMENT MODE/);
    assert.match(output, /development only/i);
    assert.ok(existsSync(join(dir, 'limen.db')), 'SQLite store under the data directory');
  });

  test('sign in with any email, see the demo upstream with a signed identity, be refused on the staff route', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://app.localhost:${port}/hello`);
      await page.waitForSelector('input[name=email]');
      assert.match(await page.content(), /Development identity provider/);
      await page.fill('input[name=email]', 'visitor@other.org');
      await Promise.all([page.waitForURL(`http://app.localhost:${port}/hello`), page.click('button[type=submit]')]);
      const body = await page.content();
      assert.match(body, /Limen demo upstream/);
      assert.match(body, /x-pomerium-jwt-assertion/i);
      assert.match(body, /visitor@other\.org/);
      await screenshot(page, join(dir, 'app.png'), false);

      const res = await page.goto(`http://staff.localhost:${port}/`);
      assert.equal(res?.status(), 403);
      const denied = await page.content();
      assert.match(denied, /403 Forbidden/);
      assert.match(denied, /domain-unauthorized/);
      assert.match(denied, /Request id/);

      const me = await page.goto(`http://app.localhost:${port}/.pomerium/`);
      assert.equal(me?.status(), 200);
      assert.match(await page.content(), /visitor@other\.org/);
    } finally {
      await page.close();
    }
  });

  test('an @example.com user reaches the staff route', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    try {
      await page.goto(`http://staff.localhost:${port}/`);
      await page.waitForSelector('input[name=email]');
      await page.fill('input[name=email]', 'ada@example.com');
      await Promise.all([page.waitForURL(`http://staff.localhost:${port}/`), page.click('button[type=submit]')]);
      assert.match(await page.content(), /Limen demo upstream/);
      assert.match(await page.content(), /ada@example\.com/);
    } finally {
      await ctx.close();
    }
  });

  test('sign-out from the user page is a confirmed POST that reaches the IdP with id_token_hint', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const endSession: URL[] = [];
    page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.endsWith('/session/end')) endSession.push(u); });
    try {
      await page.goto(`http://app.localhost:${port}/hello`);
      await page.waitForSelector('input[name=email]');
      await page.fill('input[name=email]', 'leaver@example.com');
      await Promise.all([page.waitForURL(`http://app.localhost:${port}/hello`), page.click('button[type=submit]')]);
      await page.goto(`http://app.localhost:${port}/.pomerium/`);
      await Promise.all([page.waitForURL(/\/\.pomerium\/signed_out/), page.click('#sign-out button[type=submit]')]);
      assert.match(await page.content(), /You are signed out/);
      assert.ok(endSession.some((u) => u.searchParams.get('id_token_hint')), 'the IdP end-session request carried id_token_hint');
      // Both Limen's session and the IdP's ended: signing in asks for the email again.
      await page.goto(`http://app.localhost:${port}/hello`);
      await page.waitForSelector('input[name=email]');
    } finally {
      await ctx.close();
    }
  });
});
