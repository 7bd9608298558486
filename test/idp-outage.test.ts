/**
 * The identity provider going away. In the middle of a sign-in (the user
 * signed in at the IdP, which then cannot be reached when Limen exchanges
 * the code): that is the IdP's failure (502 `idp-unavailable`, as when a
 * sign-in cannot start), not a refused sign-in (401). When a session's
 * tokens are due for a refresh: the session is kept, not ended (an IdP blip
 * must not sign everyone out), and serves while its tokens are still valid.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, followFlow, request, scriptedLogin } from './support/index.js';
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

describe('IdP unreachable when sessions are due for a refresh', () => {
  let s: Stack;
  let clock = Date.now();
  const lines: string[] = [];
  before(async () => {
    s = await startStack({
      logLines: lines,
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
      config: { metrics_address: '127.0.0.1:0' },
      accessTokenTtl: 300,
      now: () => clock,
    });
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  test('the session is kept and serves until its IdP tokens expire, then fails closed; it is never deleted', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'blip@example.com', { jar });
    const app = () => request(`${s.origin('app')}/`, { jar, headers: { accept: 'application/json' } });
    assert.equal((await app()).status, 200);
    const [session] = await s.store.list('session');
    assert.ok(session, 'one session');

    await s.stopIdp();
    clock += 250_000; // within a minute of the 300 s tokens' expiry: this request tries to refresh
    assert.equal((await app()).status, 200, 'tokens still valid: served');
    assert.equal((await app()).status, 200, 'and again, without asking the IdP (back-off)');
    assert.ok(await s.store.get('session', session.id), 'the session was not ended');

    clock += 60_000; // past the tokens' expiry, the IdP still down
    const expired = await app();
    assert.equal(expired.status, 401, 'fails closed');
    assert.deepEqual(expired.json<{ reasons: string[] }>().reasons, ['session-refresh-failed']);
    assert.ok(await s.store.get('session', session.id), 'still kept, to be refreshed once the IdP answers');

    await s.limen.services.audit.flush();
    const failed = (await s.store.queryAudit({ limit: 1000 })).filter((e) => e.kind === 'refresh_failed');
    assert.deepEqual(failed.map((e) => e.details.reason), ['idp-unavailable', 'idp-unavailable'], 'one per attempt, attempts spaced by the back-off');
    const metrics = (await request(`${s.limen.observability.metricsUrl}/metrics`)).text();
    assert.match(metrics, /^limen_session_refreshes_total\{result="failure"\} 2$/m);
    // The log says why, for the runbook: the issuer and what failed underneath (the IdP's port refuses connections).
    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'session refresh failed');
    assert.equal(warned.length, 2, 'one per attempt');
    assert.equal(warned[0]!.reason, 'idp-unavailable');
    assert.equal(warned[0]!.level, 'warn');
    assert.match(String(warned[0]!.issuer), /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.equal(warned[0]!.cause_code, 'ECONNREFUSED');
  });
});
