/**
 * The identity provider going away in the middle of a sign-in: the user has
 * signed in at the IdP, which then cannot be reached when Limen exchanges
 * the code. That is the IdP's failure (502 `idp-unavailable`, as when a
 * sign-in cannot start), not a refused sign-in (401): the person did nothing
 * wrong, and on-call should look at the IdP, not at the client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeHttpAgents, followFlow, request } from './support/index.js';
import { startStack, type Stack } from './stack.js';

describe('IdP unreachable at the code exchange', () => {
  let s: Stack;
  const lines: string[] = [];
  before(async () => {
    s = await startStack({
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
      config: { metrics_address: '127.0.0.1:0' },
      logLines: lines,
    });
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  test('the callback answers 502 idp-unavailable, audited and counted under its own reason', async () => {
    const flow = await followFlow(`${s.origin('app')}/`, {
      login: { email: 'outage@example.com' },
      beforeRequest: async (url) => {
        if (url.pathname === '/oauth2/callback') await s.stopIdp();
      },
    });
    assert.equal(flow.url.startsWith(`${s.authOrigin}/oauth2/callback`), true, 'the flow ended at the callback');
    assert.equal(flow.response.status, 502);
    assert.match(flow.response.text(), /idp-unavailable/);

    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === 'sign_in_failed');
    assert.deepEqual(failed.map((l) => l.reason), ['ERR_IDP_UNAVAILABLE']);
    const metrics = (await request(`${s.limen.observability.metricsUrl}/metrics`)).text();
    assert.match(metrics, /^limen_sign_in_failures_total\{reason="ERR_IDP_UNAVAILABLE"\} 1$/m);
    assert.match(metrics, /^limen_idp_errors_total\{operation="exchange"\} 1$/m);
  });
});
