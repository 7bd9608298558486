// The examples/whoami app, run as its README says, answers who is asking and refuses what it cannot verify.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { HOST, limenClaims, makeKey, mint, startJwksServer, type JwksServer, type TestKey } from './fixtures.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

let key: TestKey;
let jwks: JwksServer;
let child: ChildProcess;
let url: string;
let output = '';

before(async () => {
  key = await makeKey('ES256');
  jwks = await startJwksServer([key.publicJwk]);
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'examples/whoami/server.ts', '--jwks', jwks.url, '--aud', HOST, '--port', '0'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    output += chunk;
  });
  const match = await outputMatching(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  url = `${match[1]}/`;
});

/** Resolves once the app's stdout matches `pattern` (it logs asynchronously to the response). */
function outputMatching(pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(output);
      if (match === null) return;
      child.stdout?.off('data', check);
      child.off('exit', exited);
      resolve(match);
    };
    const exited = (code: number | null): void => reject(new Error(`whoami exited with ${code}`));
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

after(async () => {
  if (child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await jwks.close();
});

test('whoami answers with the verified user and logs who asked', async () => {
  // The example runs on the real clock, so the assertion is minted now.
  const res = await fetch(url, { headers: { 'x-pomerium-jwt-assertion': await mint(key, limenClaims(Date.now())) } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { summary: string; claims: { email: string } };
  assert.equal(body.claims.email, 'ada@example.com');
  assert.equal(body.summary, 'ada@example.com (user-123) groups=[admins,eng]');
  await outputMatching(/GET \/ ada@example\.com \(user-123\) groups=\[admins,eng\]/);
});

test('whoami refuses a request that bypassed Limen', async () => {
  const res = await fetch(url);
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: 'ERR_ASSERTION_MISSING' });
});
