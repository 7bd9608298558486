/**
 * Every response Limen's own endpoints give carries `x-request-id`, and it
 * is the `request-id` of that request's access line (CONTRACT §8,
 * docs/operations.md). Regression: the 200s of the user page (HTML and
 * JSON), `/.pomerium/user` and the admin API lists had no `x-request-id`
 * at all, though their access lines had an id. The table walks Limen's own
 * endpoints (route host `/.pomerium/*` and `/.well-known/pomerium/*`, the
 * authenticate host's pages, every admin API GET and every console GET from
 * their own route tables) with and without a session, as JSON and as HTML.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createDirectoryUser, createServiceAccount } from '../src/accounts/index.js';
import { adminApiRoutes, adminEndpoints } from '../src/web/index.js';
import { consoleRoutes } from '../src/web/console/index.js';

const ADMIN = 'admin@example.com';
const USER = 'ada@partner.org';
const ACCEPT = {
  html: 'text/html,application/xhtml+xml,*/*;q=0.8',
  json: 'application/json',
} as const;
/** Each request carries its own probe number, logged as `headers.x-probe`, to find its access line without its response's header. */
const PROBE = 'x-probe';

type Who = 'none' | 'user' | 'admin';
interface Case {
  readonly name: string;
  readonly url: string;
  readonly method?: string;
  readonly accept: keyof typeof ACCEPT;
  readonly who: Who;
  readonly headers?: Record<string, string>;
  /** The status, so the row is known to reach what it names. */
  readonly want: number;
}

describe('every response of Limen\'s own endpoints carries the x-request-id of its access line', () => {
  let s: Stack;
  const lines: string[] = [];
  const jars: Record<Exclude<Who, 'none'>, CookieJar> = { user: new CookieJar(), admin: new CookieJar() };
  /** Real ids for the `:id` segments of the admin API and console paths, so their success answers are walked too. */
  const ids: Record<string, string> = {};

  before(async () => {
    s = await startStack({
      logLines: lines,
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
      // debug: the access lines of /ping and /healthz are debug-level, as in Pomerium.
      config: { log_level: 'debug', administrators: [ADMIN], access_log_fields: ['request-id', 'method', 'authority', 'path', 'response-code', 'size', `headers.${PROBE}`] },
    });
    await scriptedLogin(`${s.origin('app')}/`, ADMIN, { jar: jars.admin });
    await scriptedLogin(`${s.origin('app')}/`, USER, { jar: jars.user });
    const ctx = { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() };
    ids.serviceAccount = (await createServiceAccount({ user: 'bot', description: 'request-id test' }, ctx)).account.id;
    const made = await createDirectoryUser(s.store, { email: 'dir@example.com', groups: ['ops'], source: 'manual' }, Date.now());
    ids.user = made.user.id;
    ids.group = made.createdGroups[0]!.id;
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  /** An admin API or console path with its `:name` segments filled in. */
  function filled(path: string): string {
    return path
      .replace('/service-accounts/:id', `/service-accounts/${ids.serviceAccount}`)
      .replace('/users/:id', `/users/${ids.user}`)
      .replace('/groups/:id', `/groups/${ids.group}`)
      .replace(/:[a-z]+/g, 'no-such-id');
  }

  function cases(): Case[] {
    const app = s.origin('app');
    const auth = s.authOrigin;
    const out: Case[] = [];
    /** One row per caller and Accept that `want` lists, with the status each should get. */
    const add = (name: string, url: string, want: Record<Who, Partial<Record<keyof typeof ACCEPT, number>>>, extra?: Partial<Case>): void => {
      for (const who of ['none', 'user', 'admin'] as const) {
        for (const [accept, status] of Object.entries(want[who]) as [keyof typeof ACCEPT, number][]) {
          out.push({ name: `${name} (${who}, ${accept})`, url, accept, who, want: status, ...extra });
        }
      }
    };
    // Route host: the user page, the user document, Limen's other paths there, discovery and keys.
    add('route host /.pomerium/', `${app}/.pomerium/`, { none: { html: 302, json: 401 }, user: { html: 200, json: 200 }, admin: { html: 200, json: 200 } });
    add('route host /.pomerium/user', `${app}/.pomerium/user`, { none: { html: 401, json: 401 }, user: { html: 200, json: 200 }, admin: { json: 200 } });
    add('route host /.pomerium/sign_out', `${app}/.pomerium/sign_out`, { none: { html: 303 }, user: { html: 200, json: 200 }, admin: {} });
    add('route host /.pomerium/sign_in', `${app}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${app}/`)}`, { none: { html: 302 }, user: { html: 302 }, admin: {} });
    add('route host /.pomerium/callback/ without a hand-off', `${app}/.pomerium/callback/`, { none: { html: 400, json: 400 }, user: {}, admin: {} });
    add('route host programmatic login', `${app}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent('http://127.0.0.1:9/cb')}`, { none: { json: 400 }, user: {}, admin: {} });
    add('route host unknown /.pomerium/ path', `${app}/.pomerium/no-such-page`, { none: { html: 404, json: 404 }, user: { json: 404 }, admin: {} });
    add('route host /.well-known/pomerium', `${app}/.well-known/pomerium`, { none: { json: 200 }, user: { json: 200 }, admin: {} });
    add('route host JWKS', `${app}/.well-known/pomerium/jwks.json`, { none: { json: 200 }, user: {}, admin: {} });
    out.push({ name: 'route host JWKS preflight', url: `${app}/.well-known/pomerium/jwks.json`, method: 'OPTIONS', accept: 'json', who: 'none', want: 204 });
    add('route host /ping', `${app}/ping`, { none: { html: 200 }, user: {}, admin: {} });
    add('the route itself (proxied)', `${app}/`, { none: { html: 302, json: 401 }, user: { json: 200 }, admin: {} });
    // Authenticate host: its pages and keys.
    add('authenticate /.pomerium/sign_in without a target', `${auth}/.pomerium/sign_in`, { none: { html: 400, json: 400 }, user: {}, admin: {} });
    add('authenticate /.pomerium/sign_out (confirmation)', `${auth}/.pomerium/sign_out`, { none: { html: 200 }, user: { html: 200 }, admin: {} });
    add('authenticate /.pomerium/signed_out', `${auth}/.pomerium/signed_out`, { none: { html: 200, json: 200 }, user: {}, admin: {} });
    add('authenticate /oauth2/callback without state', `${auth}/oauth2/callback`, { none: { html: 400, json: 400 }, user: {}, admin: {} });
    add('authenticate JWKS', `${auth}/.well-known/pomerium/jwks.json`, { none: { json: 200 }, user: {}, admin: {} });
    add('authenticate SCIM without a token', `${auth}/scim/v2/Users`, { none: { json: 401 }, user: {}, admin: {} });
    add('authenticate unknown admin API path', `${auth}/.pomerium/api/v1/no-such-thing`, { none: { json: 404 }, user: {}, admin: { json: 404 } });
    // Every admin API GET, from the router's own table.
    for (const e of adminApiRoutes(adminEndpoints(s.limen.services)).filter((r) => r.method === 'GET')) {
      const path = filled(e.path);
      // An unknown id is a 404 (an error page, which always had its id); a data type with no records lists none.
      const found = !path.includes('no-such-id') || e.path === '/.pomerium/api/v1/data/:type';
      add(`admin API GET ${e.path}`, `${auth}${path}`, { none: { json: 401 }, user: { json: 403 }, admin: { json: found ? 200 : 404, html: found ? 200 : 404 } });
    }
    // Every console GET, from the console's own table (the live audit stream as HEAD: it would not end).
    add('console /.pomerium/admin', `${auth}/.pomerium/admin`, { none: { html: 301 }, user: {}, admin: {} });
    for (const r of consoleRoutes().filter((c) => c.method === 'GET')) {
      const method = r.kind === 'events' ? 'HEAD' : 'GET';
      // The script is the same for everyone (it holds nothing); the pages are for administrators only.
      const want = r.kind === 'asset' ? { none: { html: 200 }, user: {}, admin: { html: 200 } } : { none: { html: 302, json: 401 }, user: { html: 403 }, admin: { html: 200 } };
      add(`console ${method} ${r.path}`, `${auth}${filled(r.path)}`, want, { method });
    }
    return out;
  }

  test('each response\'s x-request-id is the request-id of its access line', async () => {
    const rows = cases();
    assert.ok(rows.length > 60, `the table walks the endpoints (${rows.length} rows)`);
    const missing: string[] = [];
    let probe = 0;
    for (const c of rows) {
      const n = String(++probe);
      const r = await request(c.url, {
        method: c.method ?? 'GET', ...(c.who !== 'none' ? { jar: jars[c.who] } : {}),
        headers: { accept: ACCEPT[c.accept], [PROBE]: n, ...c.headers },
      });
      assert.equal(r.status, c.want, `${c.name}: ${r.text().slice(0, 200)}`);
      const line = await accessLine(lines, n);
      assert.ok(line, `${c.name}: an access line`);
      assert.equal(line['response-code'], c.want, c.name);
      assert.match(String(line['request-id']), /^[0-9a-f]{24}$/, c.name);
      // Collected rather than asserted one by one: a failure names every row that lost the header.
      if (r.header('x-request-id') !== line['request-id']) missing.push(`${c.name}: x-request-id ${r.header('x-request-id') ?? '(none)'}, logged ${String(line['request-id'])}`);
      // And its size is the body the client got (not its chunked framing, not the head).
      if (line.size !== (c.method === 'HEAD' ? 0 : r.bodyBytes)) missing.push(`${c.name}: size ${String(line.size)}, body ${r.bodyBytes} bytes`);
    }
    assert.deepEqual(missing, []);
  });
});

/** The access line of the request that sent probe `n` (written when the response closes, which may be just after the client has it all). */
async function accessLine(lines: string[], n: string): Promise<Record<string, unknown> | undefined> {
  const end = Date.now() + 10_000;
  for (;;) {
    for (const l of lines) {
      if (!l.includes('"message":"http-request"')) continue;
      const line = JSON.parse(l) as Record<string, unknown> & { headers?: Record<string, string> };
      if (line.headers?.[PROBE] === n) return line;
    }
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}
