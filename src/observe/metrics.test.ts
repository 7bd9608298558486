import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouteConfig } from '../config/index.js';
import { Metrics } from './metrics.js';

/** `name{labels} value` lines of one family from a scrape, as a map. */
async function family(m: Metrics, name: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.scrape()).split('\n')) {
    const match = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && match[1] === name) out.set(match[2] ?? '', Number(match[3]));
  }
  return out;
}

const route = { name: 'app' } as RouteConfig;

describe('Metrics: decisions by route, result and reason', () => {
  test('each decision is counted once under its label values, odd reasons folded', async () => {
    const m = new Metrics({ version: 'test' });
    const r = m.route(route);
    const decisions: readonly [string, string | undefined][] = [
      ['allow', 'domain-ok'], ['allow', 'domain-ok'], ['deny', 'groups-unauthorized'],
      ['login', undefined], ['deny', 'Not A Code'], ['deny', 'also odd!'], ['allow', 'domain-ok'],
    ];
    for (const [result, reason] of decisions) r.decision(result, reason);
    assert.deepEqual(Object.fromEntries(await family(m, 'limen_authorize_decisions_total')), {
      '{route="app",result="allow",reason="domain-ok"}': 3,
      '{route="app",result="deny",reason="groups-unauthorized"}': 1,
      '{route="app",result="login",reason="none"}': 1,
      '{route="app",result="deny",reason="other"}': 2,
    });
    r.decision('allow', 'domain-ok');
    assert.equal((await family(m, 'limen_authorize_decisions_total')).get('{route="app",result="allow",reason="domain-ok"}'), 4, 'counts handed over once, then added to');
  });

  test('past the reasons it remembers, every decision is still counted', async () => {
    const m = new Metrics({ version: 'test' });
    const r = m.route(route);
    for (let i = 0; i < 1000; i++) r.decision('deny', `Odd ${i}`);
    for (let i = 0; i < 300; i++) r.decision('deny', `reason-${i}`);
    for (let i = 0; i < 300; i++) r.decision('deny', 'reason-7');
    const f = await family(m, 'limen_authorize_decisions_total');
    assert.equal(f.get('{route="app",result="deny",reason="other"}'), 1000);
    assert.equal(f.get('{route="app",result="deny",reason="reason-7"}'), 301);
    assert.equal(f.get('{route="app",result="deny",reason="reason-299"}'), 1);
  });

  test('a store that cannot count its sessions keeps the last count, and the scrape still answers', async () => {
    const m = new Metrics({ version: 'test' });
    const counts: (() => Promise<number>)[] = [async () => 7, async () => { throw new Error('PostgreSQL: connection refused'); }, async () => 9];
    let i = 0;
    m.setSources({ activeSessions: () => counts[i]!() });
    for (const want of [7, 7, 9]) {
      assert.equal((await family(m, 'limen_active_sessions')).get(''), want, `scrape ${i}`);
      i++;
    }
  });

  test('the latency histograms count each request of a route once', async () => {
    const m = new Metrics({ version: 'test' });
    const r = m.route(route);
    for (const v of [0.00005, 0.0003, 0.2, 3]) r.own.observe(v);
    const f = await family(m, 'limen_request_duration_seconds_bucket');
    assert.equal(f.get('{le="0.0001",route="app"}'), 1);
    assert.equal(f.get('{le="0.0005",route="app"}'), 2);
    assert.equal(f.get('{le="2.5",route="app"}'), 3);
    assert.equal(f.get('{le="+Inf",route="app"}'), 4);
    assert.equal((await family(m, 'limen_request_duration_seconds_count')).get('{route="app"}'), 4);
  });
});

describe('Metrics: scrapes at the same moment', () => {
  // Regression: two at once interleaved prom-client's event-loop collector (a minimum lag of 9.2e9 s, NaN).
  test('share one collection: the same text, and the event-loop lag is a real figure', async () => {
    const m = new Metrics({ version: 'test' });
    await new Promise((r) => setTimeout(r, 100)); // the event-loop monitor has samples
    const [a, b] = await Promise.all([m.scrape(), m.scrape()]);
    assert.equal(a, b);
    const min = Number(/^nodejs_eventloop_lag_min_seconds (\S+)$/m.exec(a)?.[1]);
    assert.ok(min >= 0 && min < 10, `event-loop lag min ${min} s`);
    assert.doesNotMatch(a, /^nodejs_eventloop_lag_\w+ Nan$/im);
    const [x, y] = await Promise.all([m.json(), m.json()]);
    assert.equal(x, y, 'the JSON the primary of several workers asks for, too');
  });
});

describe('Metrics: counters with known label values', () => {
  // Regression: they had no series until their first event, which increase() then missed.
  test('start at 0', async () => {
    const m = new Metrics({ version: 'test' });
    assert.deepEqual(Object.fromEntries(await family(m, 'limen_config_reloads_total')), { '{result="success"}': 0, '{result="failure"}': 0 });
    assert.deepEqual(Object.fromEntries(await family(m, 'limen_session_refreshes_total')), { '{result="success"}': 0, '{result="failure"}': 0 });
    assert.deepEqual(Object.fromEntries(await family(m, 'limen_idp_errors_total')), { '{operation="discovery"}': 0, '{operation="exchange"}': 0, '{operation="refresh"}': 0 });
  });
});
