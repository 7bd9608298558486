import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSoak, manyRoutesConfig, parseVmRss, summarizeRss } from './soak.js';

const MB = 1024 * 1024;

test('parseVmRss reads the VmRSS line in bytes', () => {
  assert.equal(parseVmRss('Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   70656 kB\nVmData:\t 1 kB\n'), 70656 * 1024);
  assert.equal(parseVmRss('Name:\tkworker\n'), undefined);
});

test('summarizeRss: start/min/max/end, changes against the first sample, flat within 10%', () => {
  const cases: { samples: number[]; flat: boolean; end: number; max: number }[] = [
    { samples: [100, 104, 98, 103], flat: true, end: 3, max: 4 },
    { samples: [100, 110, 105], flat: true, end: 5, max: 10 },
    { samples: [100, 111, 100], flat: false, end: 0, max: 11 },
    { samples: [100, 89, 95], flat: false, end: -5, max: 0 },
    { samples: [100], flat: true, end: 0, max: 0 },
  ];
  for (const c of cases) {
    const s = summarizeRss(c.samples.map((x) => x * MB));
    assert.equal(s.flat, c.flat, JSON.stringify(c.samples));
    assert.equal(Math.round(s.endChangePct), c.end);
    assert.equal(Math.round(s.maxChangePct), c.max);
    assert.equal(s.min, Math.min(...c.samples) * MB);
  }
  assert.throws(() => summarizeRss([]), /no samples/);
});

test('formatSoak prints each figure with its target', () => {
  const text = formatSoak({
    store: 'memory', sessions: 100000, seedSeconds: 3.2, rssBefore: 80 * MB, rssSeeded: 140 * MB, warmupSec: 60, soakSec: 600,
    requests: 123, non2xx: 0, rss: summarizeRss([150 * MB, 170 * MB, 160 * MB]), startupMs: 1250, routes: 1000,
  });
  assert.match(text, /\[met\]\s+RSS with 100000 live sessions ≤ 150 MB: 140 MB/);
  assert.match(text, /\[NOT met\]\s+RSS flat within 10% over a 10 min signed-in soak .* start 150 MB, min 150 MB, max 170 MB, end 160 MB; end \+6\.7%, max \+13\.3%/);
  assert.match(text, /\[NOT met\]\s+limen serve with 1000 routes answers its first request within 1 s: 1\.25 s/);
});

test('manyRoutesConfig: that many public routes, distinct hosts, the memory store', () => {
  const c = manyRoutesConfig({ port: 4000, count: 1000, upstreamUrl: 'http://127.0.0.1:5000', issuer: 'http://127.0.0.1:6000', clientId: 'x', clientSecret: 'y', sharedSecret: 's', cookieSecret: 'k' });
  const routes = c.routes as { from: string; allow_public_unauthenticated_access: boolean }[];
  assert.equal(routes.length, 1000);
  assert.equal(new Set(routes.map((r) => r.from)).size, 1000);
  assert.equal(routes[999]!.from, 'http://r999.localhost:4000');
  assert.ok(routes.every((r) => r.allow_public_unauthenticated_access));
  assert.equal(c.databroker_storage_type, 'memory');
});
