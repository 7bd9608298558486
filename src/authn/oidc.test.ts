/**
 * What `limen_idp_errors_total` counts (OidcClient.errors), against the real
 * development identity provider: a grant the IdP refuses (a forged code, a
 * refresh token it does not know) is the client's failure, counted by the
 * sign-in and refresh counters only; an IdP that cannot be reached is an
 * IdP error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevIdp, type DevIdp } from '../devidp/index.js';
import { IdpError, OidcClient } from './oidc.js';

const REDIRECT = 'http://auth.localhost:1/oauth2/callback';

describe('OidcClient: what counts as an IdP error', () => {
  let idp: DevIdp;
  let client: OidcClient;
  let idpUp = true;
  before(async () => {
    idp = await startDevIdp({ clients: [{ clientId: 'c', clientSecret: 's'.repeat(32), redirectUris: [REDIRECT] }], log: () => {} });
    client = new OidcClient({ idpProviderUrl: idp.issuer, idpClientId: 'c', idpClientSecret: 's'.repeat(32), idpScopes: undefined, idpRequestParams: undefined, idpEmailVerification: undefined } as never, REDIRECT);
  });
  after(async () => {
    if (idpUp) await idp.close();
  });

  const refused = async (p: Promise<unknown>, code: string): Promise<void> => {
    await assert.rejects(p, (e: unknown) => e instanceof IdpError && e.code === code);
  };
  // As the IdP sends its user back: with its issuer (RFC 9207), which it advertises.
  const callback = (code: string): URL => new URL(`${REDIRECT}?code=${code}&state=st&iss=${encodeURIComponent(idp.issuer)}`);
  const expected = { state: 'st', nonce: 'n', codeVerifier: 'v'.repeat(43) };

  test('a code or refresh token the IdP refuses (invalid_grant) is not an IdP error', async () => {
    await refused(client.exchange(callback('forged-code'), expected), 'ERR_IDP_CODE_EXCHANGE');
    await refused(client.refresh('no-such-refresh-token', {}), 'ERR_IDP_REFRESH');
    assert.deepEqual({ ...client.errors }, { discovery: 0, exchange: 0, refresh: 0 });
  });

  test('an IdP that cannot be reached is', async () => {
    await idp.close();
    idpUp = false;
    // Named as such, so the callback answers 502 as sign-in's start does, not 401 as for a refused code.
    await refused(client.exchange(callback('any'), expected), 'ERR_IDP_UNAVAILABLE');
    // And a refresh then keeps the session (src/authn/identify.ts) rather than ending it as for a refusal.
    await refused(client.refresh('any', {}), 'ERR_IDP_UNAVAILABLE');
    assert.deepEqual({ ...client.errors }, { discovery: 0, exchange: 1, refresh: 1 });
  });
});
