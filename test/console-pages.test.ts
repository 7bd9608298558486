/**
 * Console pages over plain HTTP. The explain form says what is wrong with
 * what it was given. The audit page pages newest first by a cursor: walking "Older
 * events" from the newest page visits every matching event exactly once,
 * in order, even when many share one millisecond and new events arrive
 * during the walk; the filters narrow it; a bad filter is a 400 that says
 * which field is wrong.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, type IncomingMessage } from 'node:http';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import type { AuditEvent } from '../src/store/index.js';

const ADMIN = 'boss@example.com';

describe('console pages', () => {
  let s: Stack;
  const jar = new CookieJar();

  before(async () => {
    s = await startStack({
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
      config: { administrators: [ADMIN] },
    });
    await scriptedLogin(`${s.origin('app')}/`, ADMIN, { jar });
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  const page = async (query: string): Promise<{ status: number; routes: string[]; older: string | undefined }> => {
    const res = await request(`${s.authOrigin}/.pomerium/admin/audit${query}`, { jar, headers: { accept: 'text/html' } });
    const html = res.text();
    const routes = [...html.matchAll(/<td>authorize<\/td><td>[^]*?<\/td><td>(p-\d+)<\/td>/g)].map((m) => m[1]!);
    const older = /<a href="([^"]+)">Older events<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    return { status: res.status, routes, older };
  };

  test('"Older events" walks every event once, newest first, through ties and new arrivals', async () => {
    const now = Date.now();
    // 130 events: blocks of 40 share one millisecond, so page boundaries fall inside a tie; the
    // blocks lie ten days, two hours and a minute back, so the newest-first search widens its window.
    const blockTime = [now - 10 * 24 * 3_600_000, now - 2 * 3_600_000, now - 60_000, now - 60_000 + 1];
    const events: AuditEvent[] = Array.from({ length: 130 }, (_, i) => ({
      time: blockTime[Math.floor(i / 40)]!, kind: 'authorize', decision: 'deny', route: `p-${i}`, userId: 'walker', details: { reasons: ['x'] },
    }));
    await s.store.appendAudit(events);
    const seen: string[] = [];
    let next: string | undefined = '?user=walker&kind=authorize';
    let pages = 0;
    while (next !== undefined) {
      const p = await page(next.startsWith('?') ? next : next.slice(next.indexOf('?')));
      assert.equal(p.status, 200);
      seen.push(...p.routes);
      next = p.older;
      pages++;
      // Something new arrives while the operator reads: it must not shift the older pages.
      if (pages === 1) await s.store.appendAudit([{ time: Date.now(), kind: 'authorize', decision: 'deny', route: 'p-999', userId: 'walker', details: {} }]);
      assert.ok(pages < 10, 'the walk ends');
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, events.map((e) => e.route!).reverse());
  });

  test('filters narrow the trail; a bad one is refused in words', async () => {
    await s.store.appendAudit([{ time: Date.now(), kind: 'authorize', decision: 'allow', route: 'p-1000', userId: 'filtered', details: {} }]);
    assert.deepEqual((await page('?user=filtered&decision=allow')).routes, ['p-1000']);
    // The same events as JSON, from the admin API the page links to.
    const html = (await request(`${s.authOrigin}/.pomerium/admin/audit?user=filtered&decision=allow`, { jar, headers: { accept: 'text/html' } })).text();
    const json = /<a href="([^"]+)">These events as JSON \(admin API\)<\/a>/.exec(html)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(json?.startsWith('/.pomerium/api/v1/audit?'), json);
    const api = await request(`${s.authOrigin}${json}`, { jar, headers: { accept: 'application/json' } });
    assert.equal(api.status, 200);
    assert.deepEqual(api.json<{ events: { route: string }[] }>().events.map((e) => e.route), ['p-1000']);
    assert.deepEqual((await page('?user=filtered&decision=deny')).routes, []);
    assert.deepEqual((await page('?user=filtered&since=1h')).routes, ['p-1000']);
    assert.deepEqual((await page(`?user=filtered&until=${new Date(Date.now() - 3_600_000).toISOString()}`)).routes, []);
    for (const [query, words] of [['?since=yesterday', /From: give a duration/], ['?decision=maybe', /Decision: choose allow, deny or login/], ['?kind=nope', /Kind: choose/]] as const) {
      const res = await request(`${s.authOrigin}/.pomerium/admin/audit${query}`, { jar, headers: { accept: 'text/html' } });
      assert.equal(res.status, 400, query);
      assert.match(res.text(), words, query);
    }
  });

  test('the explain form says what is wrong with what it was given, in a 400', async () => {
    const explain = (q: Record<string, string>) => request(`${s.authOrigin}/.pomerium/admin/explain?${new URLSearchParams(q)}`, { jar, headers: { accept: 'text/html' } });
    const url = `${s.origin('app')}/x`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ who: 'none', url: '' }, /URL: give the URL/],
      [{ who: 'none', url: 'ftp://app.localhost/' }, /URL: give an absolute http or https URL/],
      [{ who: 'none', url, time: 'tomorrow' }, /Time: give an ISO-8601 date-time/],
      [{ who: 'none', url, ip: '999.1.1.1' }, /Client address: give an IPv4 or IPv6 address/],
      [{ who: 'none', url, method: 'BREW' }, /Method: choose one/],
      [{ who: 'user', url, known: '' }, /Known user: give the email or id/],
      [{ who: 'user', url, known: 'nobody@nowhere.example' }, /no directory user has that email or id/],
      [{ who: 'account', url, account: 'no-such-id' }, /Service account: choose one/],
      [{ who: 'identity', url }, /Describe the identity/],
      [{ who: 'identity', url, claims: 'not a claim' }, /Claims: write one name=value per line/],
    ];
    for (const [q, words] of cases) {
      const res = await explain(q);
      assert.equal(res.status, 400, JSON.stringify(q));
      assert.match(res.text(), words, JSON.stringify(q));
    }
    const ok = await explain({ who: 'none', url, time: '2026-12-05T10:00:00Z' });
    assert.equal(ok.status, 200);
    assert.match(ok.text(), /sign-in needed/);
    assert.match(ok.text(), /2026-12-05 10:00:00 UTC/);
    assert.match((await explain({ who: 'none', url: 'http://nowhere.localhost/' })).text(), /route-not-found/);
  });

  test('the live stream sends new matching events, and only those', async () => {
    const u = new URL(`${s.authOrigin}/.pomerium/admin/audit/events?user=streamer`);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      get({ host: '127.0.0.1', port: u.port, path: `${u.pathname}${u.search}`, headers: { host: u.host, cookie: jar.header(u), accept: 'text/event-stream' } }, resolve).on('error', reject);
    });
    try {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      res.setEncoding('utf8');
      let text = '';
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event in ${JSON.stringify(text)}`)), 10_000);
        res.on('data', (chunk: string) => { text += chunk; if (/event: audit\n[^]*\n\n/.test(text)) { clearTimeout(timer); resolve(); } });
      });
      await s.store.appendAudit([
        { time: Date.now(), kind: 'authorize', decision: 'deny', route: 'other', userId: 'someone-else', details: {} },
        { time: Date.now(), kind: 'authorize', decision: 'deny', route: 'streamed', userId: 'streamer', details: {} },
      ]);
      await got;
      assert.match(text, /"route":"streamed"/);
      assert.doesNotMatch(text, /"route":"other"/);
    } finally {
      res.destroy();
    }
  });
});
