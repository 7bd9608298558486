/**
 * What one anonymous request can cost Limen: the time to match a route
 * pattern, and the room its decision takes in the audit store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/index.js';
import { request, closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('resource bounds', () => {
  let s: Stack;
  let store: SqliteStore;
  const dir = mkdtempSync(join(tmpdir(), 'limen-bounds-'));
  const dbPath = join(dir, 'limen.db');
  const dbBytes = (): number => [dbPath, `${dbPath}-wal`].reduce((n, f) => { try { return n + statSync(f).size; } catch { return n; } }, 0);

  before(async () => {
    store = await SqliteStore.open({ path: dbPath });
    s = await startStack({
      store,
      routes: [
        { name: 'burst', from: 'http://burst.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        // Regression: this pattern with a 37-byte path stalled the process
        // for ~24 s on a backtracking engine.
        { name: 'files', from: 'http://files.localhost:PORT', regex: '/files/([a-z0-9]+/?)*', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
      ],
    });
  });
  after(async () => {
    await s.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    await closeHttpAgents();
  });

  test('a backtracking-prone route regex with an adversarial path is decided, and /ping keeps being served', async () => {
    // 60 characters: far past where a backtracking engine would ever finish.
    const evil = `/files/${'a'.repeat(60)}!`;
    const [miss, ping, hit] = await Promise.all([
      request(`${s.origin('files')}${evil}`, { headers: JSON_ACCEPT, timeoutMs: 30_000 }),
      request(`${s.origin('files')}/ping`, { timeoutMs: 30_000 }),
      request(`${s.origin('files')}/files/abc/def`, { headers: JSON_ACCEPT, timeoutMs: 30_000 }),
    ]);
    assert.equal(miss.status, 404);
    assert.equal(ping.status, 200);
    assert.equal(hit.status, 401, 'the pattern still matches ordinary paths');
    assert.equal((await request(`${s.origin('public')}/ping`)).status, 200);
  });

  test('a burst of anonymous requests with 15 KB paths leaves the audit store small, with the right repeat count', async () => {
    // Regression: 4,000 such requests grew limen.db from 0.9 MB to 67 MB.
    const audit = s.limen.services.audit;
    await audit.flush();
    const before = dbBytes();
    const N = 600;
    const big = 'a'.repeat(15_000);
    for (let i = 0; i < N; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, (_, j) =>
        request(`${s.origin('burst')}/${big}${i + j}`, { headers: JSON_ACCEPT, timeoutMs: 60_000 })));
      assert.ok(batch.every((r) => r.status === 401));
    }
    audit.endInterval();
    await audit.flush();
    const grown = dbBytes() - before;
    assert.ok(grown < 1024 * 1024, `the store grew by ${grown} bytes for ${N} requests (${N * 15_000} bytes of paths)`);
    const rows = await store.queryAudit({ kind: 'authorize', route: 'burst', limit: 10_000 });
    assert.equal(rows.length, 2, 'the first denial and one summary');
    assert.match(String(rows[0]!.details.path), /…\[truncated: 1500\d{1,2} characters in all\]$/);
    assert.equal(rows[1]!.details.repeated, N - 1);
    assert.equal(rows[1]!.details.ip_prefix, '127.0.0.0/24');
  });
});
