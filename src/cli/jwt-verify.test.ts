import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { main } from './main.js';
import type { CliIo } from './args.js';

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const io: CliIo = { stdout: () => undefined, stderr: (s) => { stderr += s; }, env: {}, stdinIsTTY: true, readStdin: async () => '' };
  return { code: await main(argv, io), stderr };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

// Any three-part token reaches the key lookup, which is what fails here.
const TOKEN = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.eyJhdWQiOiJhcHAifQ.c2ln';

test('jwt verify says why the JWKS could not be fetched: refused, DNS, HTTP status', async () => {
  const notFound = createServer((_req, res) => { res.writeHead(404).end('no'); });
  const port404 = await listen(notFound);
  const closed = createServer();
  const portClosed = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  try {
    const table = [
      { jwks: `http://127.0.0.1:${portClosed}/jwks.json`, want: /ERR_JWKS_UNAVAILABLE: JWKS could not be fetched: the connection was refused/ },
      { jwks: 'http://limen-test-host.invalid/jwks.json', want: /ERR_JWKS_UNAVAILABLE: JWKS could not be fetched: the host name does not resolve \(DNS\)/ },
      { jwks: `http://127.0.0.1:${port404}/jwks.json`, want: /ERR_JWKS_UNAVAILABLE: JWKS endpoint answered HTTP 404, not 200 \(http:\/\/127\.0\.0\.1:\d+\/jwks\.json\)/ },
      { jwks: `http://user:hunter2@127.0.0.1:${port404}/jwks.json?token=s3cret`, want: /JWKS URL must not carry a user name or password \(http:\/\/127\.0\.0\.1:\d+\/jwks\.json\)\n$/ },
      { jwks: `http://127.0.0.1:${port404}/jwks.json?token=s3cret`, want: /answered HTTP 404, not 200 \(http:\/\/127\.0\.0\.1:\d+\/jwks\.json\)\n$/ },
    ];
    for (const { jwks, want } of table) {
      const r = await run(['jwt', 'verify', '--jwks', jwks, '--aud', 'app.example.com', TOKEN]);
      assert.equal(r.code, 1, jwks);
      assert.match(r.stderr, want, jwks);
      assert.doesNotMatch(r.stderr, /hunter2|s3cret/, 'credentials in the URL are never printed');
    }
  } finally {
    await new Promise<void>((resolve) => notFound.close(() => resolve()));
  }
});
