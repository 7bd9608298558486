/**
 * The admin console (issue 14, item 2), walked in headless Chromium as an
 * operator would, by accessible names: sign in through the dev IdP; create a
 * service account, copy its token from the page that shows it once, use it
 * on a route (200), revoke it (401); revoke a user's sessions (their next
 * request is refused); add a contractor who is not in the IdP and a group
 * membership; filter the audit trail and watch a new event arrive live;
 * explain a denial; see the namespace tree. axe-core checks every page for
 * serious or critical accessibility violations; every page is saved as a
 * screenshot in `.screenshots/console/` (git-ignored).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CookieJar, REPO_ROOT, closeHttpAgents, launchBrowser, request, screenshot, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createServiceAccount } from '../src/accounts/index.js';

const SHOTS = join(REPO_ROOT, '.screenshots', 'console');
const AXE = readFileSync(join(REPO_ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const ADMIN = 'boss@example.com';
const VICTIM = 'leaver@example.com';
const JSON_ACCEPT = { accept: 'application/json' };

interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }

describe('the admin console, in headless Chromium', () => {
  let s: Stack;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];
  const axeResults: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'api', from: 'http://api.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ user: { is: 'ci-bot' } }] } } },
        { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } }, namespace: 'engineering' },
      ],
      config: { administrators: [ADMIN], namespaces: [{ name: 'engineering', parent: 'global' }, { name: 'platform', parent: 'engineering' }] },
    });
    browser = await launchBrowser();
    ctx = await browser.newContext();
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.authOrigin });
    page = await ctx.newPage();
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(`${page.url()}: ${m.text()}`); });
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await s?.close();
    await closeHttpAgents();
  });

  /** Screenshot and axe check of the page as it is now. */
  async function check(name: string, p: Page = page): Promise<void> {
    await screenshot(p, join(SHOTS, `${name}.png`));
    // axe runs through the DevTools protocol, which the page's CSP does not govern; the page itself runs no inline script.
    await p.evaluate(AXE);
    const violations = await p.evaluate(async () => {
      const r = await (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run();
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
    });
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeResults.push(`${name}: ${violations.length} violations (${violations.map((v) => `${v.id}/${v.impact}`).join(', ') || 'none'})`);
    assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`), [], `${name}: no serious or critical accessibility violation`);
  }

  async function signInAtIdp(p: Page, email: string, landing: string | RegExp): Promise<void> {
    await p.getByLabel('Email').fill(email);
    await Promise.all([p.waitForURL(landing), p.getByRole('button', { name: 'Sign in' }).click()]);
  }

  async function go(section: string): Promise<void> {
    await Promise.all([page.waitForLoadState('load'), page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: section }).click()]);
    await page.getByRole('heading', { level: 1, name: section }).waitFor();
  }

  test('an unauthenticated browser is sent to sign in and comes back to the console', async () => {
    const res = await request(`${s.authOrigin}/.pomerium/admin/`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 401, 'a JSON client is told to authenticate');
    await page.goto(`${s.authOrigin}/.pomerium/admin/service-accounts`);
    await signInAtIdp(page, ADMIN, `${s.authOrigin}/.pomerium/admin/service-accounts`);
    await page.getByRole('heading', { level: 1, name: 'Service accounts' }).waitFor();
    const csp = (await page.goto(`${s.authOrigin}/.pomerium/admin/`))!.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-/);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await check('overview');
  });

  test('create a service account, copy its token once, use it (200), revoke it (401)', async () => {
    await go('Service accounts');
    await check('service-accounts');
    await page.getByLabel('User id').fill('ci-bot');
    await page.getByLabel('Namespace').selectOption('global');
    await page.getByLabel('Description').fill('CI deploys');
    const [created] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Create service account' }).click()]);
    assert.equal(created.status(), 201);
    assert.match(created.headers()['cache-control'] ?? '', /no-store/);
    await page.getByRole('heading', { level: 1, name: 'Service account created' }).waitFor();
    assert.match(await page.getByRole('alert').innerText(), /will not be shown again/);
    await page.getByRole('button', { name: 'Copy token' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    const token = await page.evaluate('navigator.clipboard.readText()') as string;
    assert.equal(token, await page.getByLabel('Service account token').inputValue());
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    await check('service-account-created');

    const api = `${s.origin('api')}/data`;
    assert.equal((await request(api, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } })).status, 200, 'the copied token works');

    await go('Service accounts');
    await page.getByRole('link', { name: /^Revoke ci-bot/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Revoke service account' }).waitFor();
    await check('service-account-revoke');
    await Promise.all([page.waitForURL(/notice=account-revoked/), page.getByRole('button', { name: 'Revoke service account' }).click()]);
    assert.match(await page.getByRole('status').first().innerText(), /revoked/);
    assert.match(await page.getByRole('row', { name: /ci-bot/ }).innerText(), /revoked/);
    const refused = await request(api, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } });
    assert.equal(refused.status, 401, 'the revoked token is refused');
    assert.deepEqual(refused.json<{ reasons: string[] }>().reasons, ['service-account-revoked']);
  });

  test('revoke all of a user\'s sessions with one click: their next request is refused', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, VICTIM, { jar });
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
    await go('Sessions');
    await page.getByLabel('User').fill(VICTIM);
    await Promise.all([page.waitForURL(/sessions\?user=/), page.getByRole('button', { name: 'Show sessions' }).click()]);
    assert.equal(await page.getByRole('row', { name: new RegExp(VICTIM.replace('.', '\\.')) }).count(), 1);
    await check('sessions');
    await Promise.all([page.waitForURL(/notice=sessions-revoked/), page.getByRole('button', { name: `Revoke all sessions of ${VICTIM}` }).click()]);
    assert.match(await page.getByRole('status').first().innerText(), /1 session was revoked/);
    const after = await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(after.status, 401, 'the revoked session is refused');
  });

  test('add a contractor who is not in the IdP, with a group; add and remove a membership', async () => {
    await go('Users and groups');
    await page.getByLabel('Email', { exact: true }).fill('pat@contractor.io');
    await page.getByLabel('Name', { exact: true }).fill('Pat Contractor');
    await page.getByRole('textbox', { name: /^Groups/ }).fill('contractors');
    await Promise.all([page.waitForURL(/\/users\/[^/?]+\?notice=user-added/), page.getByRole('button', { name: 'Add user' }).click()]);
    await page.getByRole('heading', { level: 1, name: 'pat@contractor.io' }).waitFor();
    await page.getByRole('region', { name: 'Groups' }).getByText('contractors').waitFor();
    await page.getByLabel(/^Add to group/).fill('auditors');
    await Promise.all([page.waitForURL(/notice=member-added/), page.getByRole('button', { name: 'Add to group' }).click()]);
    await Promise.all([page.waitForURL(/notice=member-removed/), page.getByRole('button', { name: 'Remove from group auditors' }).click()]);
    await check('user');
    await page.getByRole('link', { name: 'Remove pat@contractor.io…' }).click();
    await page.getByRole('heading', { level: 1, name: 'Remove pat@contractor.io' }).waitFor();
    await check('user-remove');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.getByRole('heading', { level: 1, name: 'pat@contractor.io' }).waitFor();
    // A change that cannot be made says why, on a console page.
    await go('Users and groups');
    await page.getByLabel('Email', { exact: true }).fill('pat@contractor.io');
    const [conflict] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Add user' }).click()]);
    assert.equal(conflict.status(), 409);
    assert.match(await page.getByRole('alert').innerText(), /not made/);
    assert.match(await page.locator('main').innerText(), /already exists/);
    await check('refused-change');
    await go('Users and groups');
    await page.getByLabel('Email, name, id or group').fill('contractors');
    await Promise.all([page.waitForURL(/users\?q=contractors/), page.getByRole('button', { name: 'Search' }).click()]);
    assert.equal(await page.getByRole('table', { name: /Users matching/ }).getByRole('row', { name: /pat@contractor\.io/ }).count(), 1);
    await check('users');
    const audited = await request(`${s.authOrigin}/.pomerium/admin/audit?kind=user.create`, { headers: { accept: 'text/html' } });
    assert.equal(audited.status, 302, 'the audit page is only for the signed-in administrator');
  });

  test('filter the audit trail, and see a new event arrive without reloading', async () => {
    // A denial to find: a user outside example.com on the staff route.
    const jar = new CookieJar();
    const denied = await scriptedLogin(`${s.origin('staff')}/reports`, 'visitor@other.org', { jar });
    assert.equal(denied.response.status, 403);
    await go('Audit');
    await page.getByLabel('Decision').selectOption('deny');
    await page.getByLabel(/^User/).fill('visitor@other.org');
    await Promise.all([page.waitForURL(/audit\?.*decision=deny/), page.getByRole('button', { name: 'Filter' }).click()]);
    const rows = page.getByRole('table', { name: /Audit events/ }).getByRole('row');
    await rows.filter({ hasText: '/reports' }).first().waitFor();
    assert.match(await rows.nth(1).innerText(), /deny[\s\S]*staff[\s\S]*visitor@other\.org/);
    await check('audit');
    // Live: a new denial appears at the top, announced in the live region.
    assert.equal((await request(`${s.origin('staff')}/live-one`, { jar, headers: JSON_ACCEPT })).status, 403);
    await rows.filter({ hasText: '/live-one' }).waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#live-status').innerText(), /1 new event/);
    await go('Audit');
    await page.getByLabel('Kind').selectOption('service_account.revoke');
    await Promise.all([page.waitForURL(/kind=service_account\.revoke/), page.getByRole('button', { name: 'Filter' }).click()]);
    assert.match(await rows.nth(1).innerText(), new RegExp(`service_account\\.revoke[\\s\\S]*${ADMIN.replace('.', '\\.')}`), 'the change names the administrator');
  });

  test('explain a denial in plain words, with the server\'s decision core', async () => {
    await go('Routes and policies');
    await check('routes');
    await page.getByRole('link', { name: 'Explain a request to staff' }).click();
    await page.getByRole('heading', { level: 1, name: 'Explain a decision' }).waitFor();
    await page.getByRole('radio', { name: 'An identity I describe' }).check();
    await page.getByLabel('Email', { exact: true }).fill('someone@other.org');
    await Promise.all([page.waitForURL(/explain\?/), page.getByRole('button', { name: 'Explain' }).click()]);
    const result = page.getByRole('region', { name: 'Decision' });
    assert.match(await result.innerText(), /denied: 403 Forbidden/);
    assert.match(await result.innerText(), /Your email domain is not allowed on this route\./);
    await check('explain');
    // A known user, as the directory has them.
    await page.getByRole('radio', { name: 'A known user' }).check();
    await page.getByRole('textbox', { name: /^Known user/ }).fill(ADMIN);
    await Promise.all([page.waitForURL(/known=/), page.getByRole('button', { name: 'Explain' }).click()]);
    assert.match(await page.getByRole('region', { name: 'Decision' }).innerText(), /allowed/);
    // A service account of a namespace below the route's: a valid credential, out of scope.
    await createServiceAccount({ user: 'deployer', namespace: 'platform' }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() });
    await page.reload();
    await page.getByRole('radio', { name: 'A service account' }).check();
    await page.getByLabel('Service account', { exact: true }).selectOption({ label: 'deployer (platform)' });
    await Promise.all([page.waitForURL(/account=/), page.getByRole('button', { name: 'Explain' }).click()]);
    const refused = await page.getByRole('region', { name: 'Decision' }).innerText();
    assert.match(refused, /denied: 403 Forbidden/);
    assert.match(refused, /The credential is valid, but only for routes in another namespace\./);
    await check('explain-service-account');
  });

  test('by keyboard alone: the skip link, then a form filled and sent with the keys', async () => {
    await page.goto(`${s.authOrigin}/.pomerium/admin/service-accounts`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content', 'the first stop is the skip link');
    assert.notEqual(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle'), 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement.id'), 'main');
    // Tab into the form: the first field is the user id.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.id'), 'sa-user');
    await page.keyboard.type('kb-bot');
    await Promise.all([page.waitForURL(/service-accounts$/), page.getByRole('heading', { level: 1, name: 'Service account created' }).waitFor(), page.keyboard.press('Enter')]);
    assert.match(await page.getByRole('heading', { level: 2 }).first().innerText(), /kb-bot/);
  });

  test('impersonate a user from their page, then stop from the console', async () => {
    await go('Users and groups');
    await page.getByLabel('Email, name, id or group').fill('pat@contractor.io');
    await Promise.all([page.waitForURL(/users\?q=/), page.getByRole('button', { name: 'Search' }).click()]);
    await Promise.all([page.waitForURL(/\/users\/[^/?]+$/), page.getByRole('link', { name: 'pat@contractor.io' }).click()]);
    await page.getByLabel('Open as pat@contractor.io').selectOption(s.origin('app'));
    // The route host's user page, as the user, with the banner to stop.
    await Promise.all([page.waitForURL(`${s.origin('app')}/.pomerium/`), page.getByRole('button', { name: 'Impersonate pat@contractor.io' }).click()]);
    assert.match(await page.getByRole('status').innerText(), /Impersonating pat@contractor\.io \(you are boss@example\.com\)/);
    // The console is closed meanwhile, and says how to reopen it.
    await page.goto(`${s.authOrigin}/.pomerium/admin/`);
    await page.getByRole('heading', { name: '403 Forbidden' }).waitFor();
    await check('impersonating');
    await Promise.all([page.waitForURL(/notice=impersonation-stopped/), page.getByRole('button', { name: 'Stop impersonating' }).click()]);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    assert.match(await page.getByRole('status').first().innerText(), /stopped impersonating/);
  });

  test('the namespace tree, with the service accounts in each', async () => {
    await go('Namespaces');
    const tree = page.getByRole('list', { name: 'Namespaces in engineering' });
    await tree.getByText('platform').waitFor();
    assert.match(await page.locator('.tree').innerText(), /ci-bot/);
    await check('namespaces');
    // The overview now shows the day's denials and changes, each change naming the administrator.
    await go('Overview');
    assert.match(await page.getByRole('table', { name: /denied requests/ }).innerText(), /visitor@other\.org/);
    assert.match(await page.getByRole('table', { name: /changes of the past day/ }).innerText(), /service_account\.revoke[\s\S]*boss@example\.com/);
    await check('overview-later');
    // The dark colour scheme keeps its contrast too.
    await page.emulateMedia({ colorScheme: 'dark' });
    await go('Service accounts');
    await check('service-accounts-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('a signed-in non-administrator gets the 403 page with its next steps', async () => {
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      await p.goto(`${s.authOrigin}/.pomerium/admin/`);
      await signInAtIdp(p, 'ada@example.com', `${s.authOrigin}/.pomerium/admin/`);
      await p.getByRole('heading', { name: '403 Forbidden' }).waitFor();
      for (const name of ['Sign out', 'Sign in as someone else']) assert.equal(await p.getByRole('button', { name }).count(), 1, name);
      await check('forbidden', p);
      // Sign in as someone else: through the IdP's end-session and back to the console.
      await Promise.all([
        p.waitForURL((u) => u.origin === new URL(s.idpUrl).origin && !u.pathname.startsWith('/session/end')),
        p.getByRole('button', { name: 'Sign in as someone else' }).click(),
      ]);
      await signInAtIdp(p, ADMIN, `${s.authOrigin}/.pomerium/admin/`);
      await p.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    } finally {
      await other.close();
    }
    assert.deepEqual(cspViolations, [], 'no console page broke its CSP');
    console.log(axeResults.join('\n'));
  });
});
