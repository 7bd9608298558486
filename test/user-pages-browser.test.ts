/**
 * The pages a person meets (issue 14, item 3), walked in headless Chromium
 * by accessible names: the 403 page offers sign-out, "sign in as someone
 * else" and the user page; the user page links back to the app page the
 * user came from (same origin only) and reads "none" for empty values; the
 * signed-out page signs in again where the user was. Every Limen page works
 * under its strict Content-Security-Policy and declares its own icon, so no
 * browser asks a route host for `/favicon.ico` on Limen's behalf and no
 * refused favicon request lands in the audit trail. Either defence alone
 * keeps Chromium from asking (the icon link; the CSP's `img-src data:`); with
 * neither, every Limen page viewed on a route the user may not reach added
 * a refused `/favicon.ico` to the trail, which the last test would catch.
 *
 * Screenshots go to `.screenshots/user-pages/` (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CookieJar, REPO_ROOT, closeHttpAgents, launchBrowser, request, screenshot, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import type { StoredAuditEvent } from '../src/store/index.js';

const SHOTS = join(REPO_ROOT, '.screenshots', 'user-pages');
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
/** Signs in with an empty name and no groups: what the user page must show as "none". */
const VISITOR = 'visitor@other.org';
const ADMIN = 'boss@example.com';

describe('the pages a user meets, in headless Chromium', () => {
  let s: Stack;
  let browser: Browser;
  /** Console messages reporting a Content-Security-Policy violation, from every page opened. */
  const cspViolations: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } }, pass_identity_headers: true },
      ],
      users: { [VISITOR]: { name: '', groups: [] } },
      config: { administrators: [ADMIN] },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    await closeHttpAgents();
  });

  async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`); });
    return { ctx, page };
  }

  /** Fills the dev IdP's sign-in form and waits to arrive at `landing`. */
  async function signInAtIdp(page: Page, email: string, landing: string | RegExp): Promise<void> {
    await page.getByLabel('Email').fill(email);
    await Promise.all([page.waitForURL(landing), page.getByRole('button', { name: 'Sign in' }).click()]);
  }

  /** The text of the `<dd>` after the `<dt>` named `term`. */
  async function detail(page: Page, term: string): Promise<string> {
    return (await page.locator('dt', { hasText: new RegExp(`^${term}$`) }).locator('xpath=following-sibling::dd[1]').innerText()).trim();
  }

  /**
   * The audited requests for /favicon.ico, once one matches `until` (polled for up
   * to five seconds, as the browser asks for icons after the page has loaded).
   */
  async function auditedIcons(until: (e: StoredAuditEvent) => boolean): Promise<StoredAuditEvent[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      await s.limen.services.audit.flush();
      const icons = (await s.store.queryAudit({ limit: 100_000 })).filter((e) => e.kind === 'authorize' && e.details.path === '/favicon.ico');
      if (icons.some(until) || Date.now() > deadline) return icons;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function shot(page: Page, name: string): Promise<void> {
    await screenshot(page, join(SHOTS, `${name}.png`));
  }

  test('the 403 page: who you are ("none" where empty), then your user details and back, then sign in as someone else', async () => {
    const { ctx, page } = await newPage();
    const denied = `${s.origin('staff')}/reports?q=1`;
    try {
      await page.goto(denied);
      await signInAtIdp(page, VISITOR, denied);
      await assert.doesNotReject(page.getByRole('heading', { name: '403 Forbidden' }).waitFor());
      assert.equal(await detail(page, 'Email'), VISITOR);
      assert.equal(await detail(page, 'Groups'), 'none', 'no groups reads "none", not a blank row');
      assert.equal(await page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(246, 247, 249)', 'the stylesheet applies under the CSP');
      for (const name of ['Sign out', 'Sign in as someone else']) assert.equal(await page.getByRole('button', { name }).count(), 1, name);
      await shot(page, '403');

      await Promise.all([page.waitForURL(/\/\.pomerium\/\?/), page.getByRole('link', { name: 'Your user details' }).click()]);
      await page.getByRole('heading', { name: 'User details' }).waitFor();
      assert.equal(await detail(page, 'Email'), VISITOR);
      assert.equal(await detail(page, 'Name'), 'none');
      assert.equal(await detail(page, 'Groups'), 'none');
      await shot(page, 'user-page-from-403');
      await Promise.all([page.waitForURL(denied), page.getByRole('link', { name: 'Back to /reports?q=1' }).click()]);
      await page.getByRole('heading', { name: '403 Forbidden' }).waitFor();

      // Sign out, through the IdP's end-session, and straight on to a fresh sign-in for this page.
      await Promise.all([
        page.waitForURL((u) => u.origin === new URL(s.idpUrl).origin && u.pathname !== '/session/end' && !u.pathname.startsWith('/session/end/')),
        page.getByRole('button', { name: 'Sign in as someone else' }).click(),
      ]);
      await page.getByLabel('Email').waitFor();
      await shot(page, 'switch-account-idp');
      await signInAtIdp(page, 'ada@example.com', denied);
      assert.match(await page.content(), /Limen demo upstream/);
      assert.match(await page.content(), /ada@example\.com/);
    } finally {
      await ctx.close();
    }
  });

  test('sign out from the user page (reached from an app page), and "Sign in again" returns to that page', async () => {
    const { ctx, page } = await newPage();
    const hello = `${s.origin('app')}/hello`;
    try {
      await page.goto(hello);
      await signInAtIdp(page, 'leaver@example.com', hello);
      // The app links to /.pomerium/: the browser's Referer says where the user came from.
      await page.goto(`${s.origin('app')}/.pomerium/`, { referer: hello });
      await page.getByRole('heading', { name: 'User details' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Back to /hello' }).getAttribute('href'), hello);
      await shot(page, 'user-page');

      await Promise.all([page.waitForURL(/\/\.pomerium\/signed_out/), page.getByRole('button', { name: 'Sign out' }).click()]);
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
      await shot(page, 'signed-out');
      await Promise.all([page.waitForURL((u) => u.origin === new URL(s.idpUrl).origin), page.getByRole('link', { name: 'Sign in again' }).click()]);
      // The IdP's session ended too: it asks who is signing in.
      await signInAtIdp(page, 'leaver@example.com', hello);
      assert.match(await page.content(), /leaver@example\.com/);
    } finally {
      await ctx.close();
    }
  });

  test('an administrator impersonates from the user page by its labelled form, and keeps the way back', async () => {
    const { ctx, page } = await newPage();
    const hello = `${s.origin('app')}/hello`;
    try {
      await page.goto(hello);
      await signInAtIdp(page, ADMIN, hello);
      await page.goto(`${s.origin('app')}/.pomerium/`, { referer: hello });
      await page.getByRole('heading', { name: 'Impersonate' }).waitFor();
      await page.getByLabel('Email').fill(VISITOR);
      await Promise.all([page.waitForURL(/\/\.pomerium\/\?pomerium_redirect_uri=/), page.getByRole('button', { name: 'Impersonate' }).click()]);
      assert.match(await page.getByRole('status').innerText(), new RegExp(`Impersonating ${VISITOR.replace('.', '\\.')} \\(you are ${ADMIN.replace('.', '\\.')}\\)`));
      assert.equal(await detail(page, 'Name'), 'none');
      assert.equal(await detail(page, 'Groups'), 'none');
      assert.equal(await detail(page, 'Impersonated by'), ADMIN);
      assert.equal(await page.getByRole('link', { name: 'Back to /hello' }).getAttribute('href'), hello, 'the Back link survives the form post');
      await shot(page, 'user-page-impersonating');
      await Promise.all([page.waitForURL(/\/\.pomerium\/\?pomerium_redirect_uri=/), page.getByRole('button', { name: 'Stop impersonating' }).click()]);
      assert.equal(await page.getByRole('status').count(), 0, 'the banner is gone');
      assert.equal(await detail(page, 'Email'), ADMIN);
      assert.equal(await page.getByRole('link', { name: 'Back to /hello' }).getAttribute('href'), hello, 'and the Back link still leads to the app page');
    } finally {
      await ctx.close();
    }
  });

  test('the Back link and "Sign in again" only ever point at a page of the same route, never elsewhere', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'links@example.com', { jar });
    const app = s.origin('app');
    const backLink = (html: string): string | undefined => /<p class="back"><a href="([^"]+)"/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    const cases: [string, { given?: string; referer?: string }, string | undefined][] = [
      ['a page of this route', { given: `${app}/a/b?c=d` }, `${app}/a/b?c=d`],
      ['the Referer of an app page', { referer: `${app}/from-app` }, `${app}/from-app`],
      ['the given URL wins over the Referer', { given: `${app}/given`, referer: `${app}/referer` }, `${app}/given`],
      ['a fragment is dropped', { given: `${app}/x#frag` }, `${app}/x`],
      ['another route', { given: `${s.origin('staff')}/` }, undefined],
      ['another site', { given: 'http://evil.example/' }, undefined],
      ['another site as Referer', { referer: 'http://evil.example/' }, undefined],
      ['a scheme-relative URL', { given: '//evil.example/' }, undefined],
      ['a script URL', { given: 'javascript:alert(1)' }, undefined],
      ['another scheme of this host', { given: app.replace('http:', 'https:') + '/' }, undefined],
      ['credentials in the URL', { given: `http://user:pw@app.localhost:${s.port}/` }, undefined],
      ['Limen\'s own sign-out', { given: `${app}/.pomerium/sign_out` }, undefined],
      ['a Referer of Limen\'s own page', { referer: `${app}/.pomerium/sign_out?pomerium_redirect_uri=${encodeURIComponent(`${app}/x`)}` }, undefined],
      ['a Referer of the user page passes its way back on', { referer: `${app}/.pomerium/?pomerium_redirect_uri=${encodeURIComponent(`${app}/kept`)}` }, `${app}/kept`],
      ['... but only to this route', { referer: `${app}/.pomerium/?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('staff')}/`)}` }, undefined],
      ['the authenticate host', { given: `${s.authOrigin}/` }, undefined],
    ];
    for (const [name, { given, referer }, want] of cases) {
      const url = given === undefined ? `${app}/.pomerium/` : `${app}/.pomerium/?pomerium_redirect_uri=${encodeURIComponent(given)}`;
      const res = await request(url, { jar, headers: { ...BROWSER_ACCEPT, ...(referer ? { referer } : {}) } });
      assert.equal(res.status, 200, name);
      assert.equal(backLink(res.text()), want, name);
    }

    const signInAgain = (html: string): string | undefined => /<a href="([^"]+)">Sign in again<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    const signedOut: [string, string, string | undefined][] = [
      ['a route page', `pomerium_redirect_uri=${encodeURIComponent(`${app}/p`)}`, `${app}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${app}/p`)}`],
      ['another site', `pomerium_redirect_uri=${encodeURIComponent('http://evil.example/')}`, undefined],
      ['a forged state', 'state=eyJhbGciOiJub25lIn0.e30.', undefined],
      ['nothing', '', undefined],
    ];
    for (const [name, query, want] of signedOut) {
      const res = await request(`${s.authOrigin}/.pomerium/signed_out?${query}`, { headers: BROWSER_ACCEPT });
      assert.equal(res.status, 200, name);
      assert.equal(signInAgain(res.text()), want, name);
      if (!want) assert.match(res.text(), /open the application you were using/, name);
    }
  });

  test('every Limen page carries the strict CSP and its own icon: no favicon request is refused into the audit trail', async () => {
    const { ctx, page } = await newPage();
    try {
      await page.goto(`${s.origin('staff')}/`);
      await signInAtIdp(page, VISITOR, `${s.origin('staff')}/`);
      const limenPages: [string, string, number][] = [
        ['403', `${s.origin('staff')}/`, 403],
        ['404', `${s.origin('staff')}/.pomerium/nothing-here`, 404],
        ['user-page-staff', `${s.origin('staff')}/.pomerium/`, 200],
        ['sign-out-confirmation', `${s.origin('staff')}/.pomerium/sign_out`, 200],
        ['signed-out-page', `${s.authOrigin}/.pomerium/signed_out`, 200],
      ];
      for (const [name, url, status] of limenPages) {
        const res = await page.goto(url);
        assert.equal(res?.status(), status, name);
        const csp = res!.headers()['content-security-policy'] ?? '';
        assert.match(csp, /default-src 'none'/, `${name}: strict CSP`);
        assert.doesNotMatch(csp, /unsafe-|script-src/, `${name}: no script, nothing unsafe`);
        assert.equal(await page.locator('link[rel="icon"]').count(), 1, `${name}: declares its icon`);
        await page.waitForLoadState('networkidle');
        await shot(page, `limen-${name}`);
      }
      assert.deepEqual(cspViolations, [], 'no page broke its CSP');
      // The control: a page of the upstream app declares no icon, so Chromium asks that host
      // for /favicon.ico (the app's own business, proxied and audited like any request). The
      // browser fetches icons itself, unseen by page events: the audit trail is where to look.
      const other = await browser.newContext();
      try {
        const ada = await other.newPage();
        await ada.goto(`${s.origin('staff')}/`);
        await signInAtIdp(ada, 'ada@example.com', `${s.origin('staff')}/`);
        assert.ok(await auditedIcons((e) => e.decision === 'allow' && e.email === 'ada@example.com'), 'Chromium asked the upstream page\'s host for its icon');
      } finally {
        await other.close();
      }
      // Across every page this file opened (the walks above too), none was refused.
      const icons = await auditedIcons(() => true);
      assert.deepEqual(icons.filter((e) => e.decision !== 'allow').map((e) => `${e.decision} ${String(e.details.host)} ${e.email ?? ''}`), [], 'no refused favicon request');
    } finally {
      await ctx.close();
    }
  });
});
