/**
 * What an operator sees when the identity provider fails, against the real
 * development IdP: `limen_idp_errors_total` across config reloads (each
 * builds a new IdP client), the IdP's OAuth error code when it refuses the
 * code exchange (a wrong client secret), and the cause of a failed
 * discovery (the issuer and what went wrong) in the log and on `/readyz`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeHttpAgents, followFlow, request } from './support/index.js';
import { freePort, startStack, type Stack } from './stack.js';

const ROUTES = [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }];
const WRONG_SECRET = 'not-the-client-secret-0123456789';

type Line = Record<string, unknown>;
const parsed = (lines: readonly string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

/** One sign-in through the dev IdP up to Limen's callback, whose answer it returns. */
async function signInToCallback(s: Stack, email: string): Promise<{ status: number; text: string; url: string }> {
  const flow = await followFlow(`${s.origin('app')}/`, { login: { email } });
  return { status: flow.response.status, text: flow.response.text(), url: flow.url };
}

async function idpErrors(s: Stack): Promise<Record<string, number>> {
  const text = (await request(`${s.limen.observability.metricsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^limen_idp_errors_total\{operation="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

describe('IdP refuses Limen\'s client (a wrong client secret)', () => {
  let s: Stack;
  const lines: string[] = [];
  before(async () => {
    s = await startStack({ routes: ROUTES, config: { metrics_address: '127.0.0.1:0', idp_client_secret: WRONG_SECRET }, logLines: lines });
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  test('the sign_in_failed event and a warn line name the IdP\'s OAuth error, never its description or a secret', async () => {
    const from = lines.length;
    const answer = await signInToCallback(s, 'wrong-secret@example.com');
    assert.equal(new URL(answer.url).pathname, '/oauth2/callback');
    assert.equal(answer.status, 401);
    assert.match(answer.text, /idp-exchange-failed/);

    const mine = parsed(lines.slice(from));
    const failed = mine.filter((l) => l.audit === 'sign_in_failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.reason, 'ERR_IDP_CODE_EXCHANGE');
    assert.equal(failed[0]!.idp_error, 'invalid_client');
    const warn = mine.filter((l) => l.level === 'warn' && l.idp_error !== undefined);
    assert.equal(warn.length, 1, 'one warn line');
    assert.equal(warn[0]!.code, 'ERR_IDP_CODE_EXCHANGE');
    assert.equal(warn[0]!.idp_error, 'invalid_client');
    assert.equal(warn[0]!.requestId, failed[0]!.requestId, 'the same request');
    const text = lines.slice(from).join('\n');
    assert.doesNotMatch(text, /error_description|client authentication failed/i, 'never the IdP\'s description');
    assert.ok(!text.includes(WRONG_SECRET) && !text.includes(s.clientSecret), 'never a secret');
    assert.doesNotMatch(text, /[?&]code=/, 'never the code');
  });

  test('limen_idp_errors_total counts every failure across reloads, on the old client too', async () => {
    const start = (await idpErrors(s)).exchange!;
    // A scrape, then failures on the client a reload is about to replace.
    await signInToCallback(s, 'a@example.com');
    await signInToCallback(s, 'b@example.com');
    const retired = s.limen.runtime().oidc!;
    await s.limen.reload(s.configWith(ROUTES)); // unchanged, as SIGHUP with the same file
    // A sign-in that started before the reload ends on the client it started with.
    await assert.rejects(retired.exchange(new URL(`${s.authOrigin}/oauth2/callback?code=c&state=st&iss=${encodeURIComponent(s.idpUrl)}`), { state: 'st', nonce: 'n', codeVerifier: 'v'.repeat(43) }),
      { code: 'ERR_IDP_CODE_EXCHANGE' });
    await signInToCallback(s, 'c@example.com');
    await s.limen.reload(s.configWith(ROUTES));
    await s.limen.reload(s.configWith(ROUTES));
    await signInToCallback(s, 'd@example.com');
    await s.limen.reload(s.configWith(ROUTES)); // no scrape in between: a client that lived between two scrapes
    assert.deepEqual(await idpErrors(s), { discovery: 0, exchange: start + 5, refresh: 0 });
    assert.deepEqual(await idpErrors(s), { discovery: 0, exchange: start + 5, refresh: 0 }, 'a scrape counts nothing twice');
  });
});

describe('IdP discovery fails', () => {
  let s: Stack;
  const lines: string[] = [];
  let issuer: string;
  before(async () => {
    const port = await freePort(); // nothing listens there
    issuer = `http://127.0.0.1:${port}/realm`;
    s = await startStack({ routes: ROUTES, config: { idp_provider_url: issuer }, logLines: lines });
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  test('/readyz and the log line name the issuer and the cause', async () => {
    const port = new URL(issuer).port;
    const ready = await s.limen.healthReport('readyz');
    assert.equal(ready.status, 'unhealthy');
    assert.deepEqual(ready.checks['idp-discovery'], {
      status: 'failed', error: `identity provider discovery failed at ${issuer}: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${port}`,
    });

    const from = lines.length;
    const answer = await signInToCallback(s, 'nobody@example.com');
    assert.equal(answer.status, 502);
    const warn = parsed(lines.slice(from)).filter((l) => l.level === 'warn');
    assert.equal(warn.length, 1);
    assert.deepEqual({ code: warn[0]!.code, issuer: warn[0]!.issuer, cause_code: warn[0]!.cause_code, cause: warn[0]!.cause }, {
      code: 'ERR_IDP_DISCOVERY', issuer, cause_code: 'ECONNREFUSED', cause: `connect ECONNREFUSED 127.0.0.1:${port}`,
    });
    assert.ok(!lines.join('\n').includes(s.clientSecret), 'never the client secret');
  });
});
