/**
 * What one anonymous request can cost Limen: the time to match a route
 * pattern, and the room its decision takes in the audit store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('resource bounds', () => {
  let s: Stack;

  before(async () => {
    s = await startStack({
      routes: [
        // Regression: this pattern with a 37-byte path stalled the process
        // for ~24 s on a backtracking engine.
        { name: 'files', from: 'http://files.localhost:PORT', regex: '/files/([a-z0-9]+/?)*', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
      ],
    });
  });
  after(async () => {
    await s.close();
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
});
