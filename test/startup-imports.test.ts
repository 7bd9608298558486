/**
 * `limen serve` loads only what every start needs (issue 16, start-up with
 * 1000 routes within 1 s): the ACME client, the PostgreSQL driver,
 * prom-client (and the OpenTelemetry API it pulls in), the OpenTelemetry SDK
 * and the development IdP are imported when their feature is on, and of
 * undici only the Agent. Checked in a fresh process, by the CommonJS
 * modules it holds once the server and the serve command are loaded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Agent from 'undici/lib/dispatcher/agent.js';
import { Agent as IndexAgent } from 'undici';
import * as acme from 'acme-client';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../src/autocert/index.js';

const run = promisify(execFile);

const PROBE = `
import { createRequire } from 'node:module';
await import(${JSON.stringify(new URL('../src/cli/serve.ts', import.meta.url).pathname)});
await import(${JSON.stringify(new URL('../src/server/index.ts', import.meta.url).pathname)});
const loaded = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(JSON.stringify(loaded));
`;

describe('start-up imports', () => {
  test('the server and the serve command load no optional feature\'s packages', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { cwd: new URL('..', import.meta.url).pathname });
    const loaded = JSON.parse(stdout) as string[];
    assert.ok(loaded.some((f) => f.includes('/node_modules/undici/lib/dispatcher/agent.js')), 'the probe sees CommonJS modules');
    for (const pkg of ['acme-client', 'pg', 'prom-client', '@opentelemetry', 'oidc-provider']) {
      assert.deepEqual(loaded.filter((f) => f.includes(`/node_modules/${pkg}/`)), [], `${pkg} is not loaded at start`);
    }
    assert.ok(!loaded.some((f) => f.endsWith('/node_modules/undici/index.js')), 'undici\'s index (fetch, WebSocket, mocks) is not loaded');
  });

  test('the Agent module on its own is undici\'s Agent', () => {
    assert.equal(Agent, IndexAgent);
  });

  test('the Let\'s Encrypt directories written out (so that acme-client loads only with autocert) are acme-client\'s', () => {
    assert.equal(LETS_ENCRYPT, acme.directory.letsencrypt.production);
    assert.equal(LETS_ENCRYPT_STAGING, acme.directory.letsencrypt.staging);
  });
});
