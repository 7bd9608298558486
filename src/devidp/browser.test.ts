import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchBrowser } from '../../test/support/browser.js';
import { DEV_IDP_NOTICE, LOGIN_FORM_ID, startDevIdp, type DevIdp } from './index.js';

// One real-browser pass over the dev IdP: the login page renders, the notice is
// visible, and submitting the form lands on the client's redirect URI with a
// code that redeems to the typed email and groups.

const rp = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' }).end('<title>rp</title>signed in');
});
let idp: DevIdp;
let browser: Browser;
let callback: string;

before(async () => {
  await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve));
  // *.localhost resolves to 127.0.0.1 through Chromium's --host-resolver-rules.
  callback = `http://rp.localhost:${(rp.address() as AddressInfo).port}/oauth2/callback`;
  idp = await startDevIdp({
    clients: [{ clientId: 'browser-test', clientSecret: 'browser-secret', redirectUris: [callback] }],
    log: () => {},
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await idp?.close();
  rp.closeAllConnections();
  await new Promise<void>((resolve) => rp.close(() => resolve()));
});

test('the login page renders in Chromium and signs in', async () => {
  const config = await oidc.discovery(new URL(idp.issuer), 'browser-test', 'browser-secret', undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: callback,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });

  const page = await browser.newPage();
  try {
    await page.goto(url.href);
    assert.ok((await page.title()).includes(DEV_IDP_NOTICE));
    assert.equal(await page.locator('[role=alert]').first().innerText(), DEV_IDP_NOTICE);
    assert.equal(await page.locator(`form#${LOGIN_FORM_ID}`).count(), 1);

    await page.fill('input[name=email]', 'browser.user@example.com');
    await page.fill('input[name=groups]', 'testers');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(callback)), page.click('button[type=submit]')]);

    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('state'), state);
    assert.ok(landed.searchParams.get('code'));
    const tokens = await oidc.authorizationCodeGrant(config, landed, { pkceCodeVerifier: verifier, expectedState: state });
    assert.equal(tokens.claims()?.email, 'browser.user@example.com');
    assert.deepEqual(tokens.claims()?.groups, ['testers']);
  } finally {
    await page.close();
  }
});
