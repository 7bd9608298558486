/**
 * `limen serve` loads only what every start needs (issue 16, start-up with
 * 1000 routes within 1 s): the ACME client, the PostgreSQL driver,
 * prom-client (and the OpenTelemetry API it pulls in), the OpenTelemetry SDK
 * and the development IdP are imported when their feature is on, and of
 * undici only the Agent; `yaml` only when a config text needs it (one the
 * quick reader declines, or one with an error to locate). Checked in a
 * fresh process, by the CommonJS modules it holds once the server and the
 * serve command are loaded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Agent from 'undici/lib/dispatcher/agent.js';
import { Agent as IndexAgent } from 'undici';
import * as acme from 'acme-client';
import { LETS_ENCRYPT, LETS_ENCRYPT_STAGING } from '../src/autocert/index.js';
import { parseConfigText } from '../src/config/index.js';

const run = promisify(execFile);

const src = (path: string): string => JSON.stringify(new URL(`../src/${path}`, import.meta.url).pathname);

/** The CommonJS modules a fresh process holds after `body` (which may await). */
async function loadedAfter(body: string): Promise<string[]> {
  const probe = `
import { createRequire } from 'node:module';
await import(${src('cli/serve.ts')});
await import(${src('server/index.ts')});
${body}
process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: new URL('..', import.meta.url).pathname });
  return JSON.parse(stdout) as string[];
}

const CONFIG = `
insecure_server: true
shared_secret: ${Buffer.alloc(32, 1).toString('base64')}
cookie_secret: ${Buffer.alloc(32, 2).toString('base64')}
idp_provider_url: https://idp.example.com
idp_client_id: limen
idp_client_secret: secret
authenticate_service_url: https://authenticate.example.com
routes:
  - from: https://app.example.com
    to: http://127.0.0.1:8080
    allow_any_authenticated_user: true
`;
const yamlFiles = (loaded: readonly string[]): string[] => loaded.filter((f) => f.includes('/node_modules/yaml/'));

describe('start-up imports', () => {
  test('the server and the serve command load no optional feature\'s packages', async () => {
    const loaded = await loadedAfter('');
    assert.ok(loaded.some((f) => f.includes('/node_modules/undici/lib/dispatcher/agent.js')), 'the probe sees CommonJS modules');
    for (const pkg of ['acme-client', 'pg', 'prom-client', '@opentelemetry', 'oidc-provider']) {
      assert.deepEqual(loaded.filter((f) => f.includes(`/node_modules/${pkg}/`)), [], `${pkg} is not loaded at start`);
    }
    assert.ok(!loaded.some((f) => f.endsWith('/node_modules/undici/index.js')), 'undici\'s index (fetch, WebSocket, mocks) is not loaded');
    assert.deepEqual(yamlFiles(loaded), [], 'yaml is not loaded at start');
  });

  test('a plain config is read without yaml; one with an anchor, or with an error, loads it to read or to locate', async () => {
    const read = (text: string): string => `
const { parseConfigText } = await import(${src('config/index.ts')});
try { parseConfigText(${JSON.stringify(text)}, 'limen.yaml', {}); } catch (e) { if (e.name !== 'ConfigError') throw e; }`;
    // The plain config is valid and has no warning (else yaml would be needed to locate it).
    assert.deepEqual(parseConfigText(CONFIG, 'limen.yaml', {}).warnings, []);
    assert.deepEqual(yamlFiles(await loadedAfter(read(CONFIG))), [], 'the quick reader read it alone');
    assert.notDeepEqual(yamlFiles(await loadedAfter(read(CONFIG.replace('idp_client_id: limen', 'idp_client_id: &id limen')))), [], 'an anchor: read by yaml');
    assert.notDeepEqual(yamlFiles(await loadedAfter(read(CONFIG.replace('idp_client_id', 'idp_clent_id')))), [], 'an error: located by yaml');
  });

  test('the Agent module on its own is undici\'s Agent', () => {
    assert.equal(Agent, IndexAgent);
  });

  test('the Let\'s Encrypt directories written out (so that acme-client loads only with autocert) are acme-client\'s', () => {
    assert.equal(LETS_ENCRYPT, acme.directory.letsencrypt.production);
    assert.equal(LETS_ENCRYPT_STAGING, acme.directory.letsencrypt.staging);
  });
});
