/**
 * Fuzzing `limen token`: any argument list and secret either mints a token
 * that verifies with that secret and names exactly the given audience, or
 * ends with a usage error or exit code 1; never another exception. The
 * secret never appears in anything printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { jwtVerify } from 'jose';
import { fuzzAsync, fuzzSync, mutatedString } from '../../test/support/fuzz.js';
import { UsageError, type CliIo } from './args.js';
import { decodeSecret, parseTokenFlags, tokenCommand } from './token.js';

const SECRET = randomBytes(32);
const SECRET_B64 = SECRET.toString('base64');

const FLAG_WORDS = [
  '-aud', '--aud', '-audience', '-email', '-expiry', '--expiry', '-groups', '-impersonate_email', '--impersonate-email', '-impersonate_groups',
  '-iss', '-sub', '-user', '--secret-from-arg', '-h', '--help', '--', '-', '-aud=app.example.com', '-expiry=1h', '--secret-from-arg=false', '-nope',
];
const VALUES = ['app.example.com', 'a.example.com,b.example.com', ',', '', 'bob@example.com', '1h', '30m', '0', '-1h', '1e9h', '9999999999h', 'admins,users', 'bob'];

const argv = fc.array(fc.oneof(fc.constantFrom(...FLAG_WORDS), mutatedString(...VALUES)), { maxLength: 10 });

test('token flags: any argument list parses or is a UsageError', () => {
  fuzzSync('token-flags', 2000, [argv], (args) => {
    try {
      const { values, positionals } = parseTokenFlags(args);
      assert.ok(Array.isArray(positionals));
      for (const v of Object.values(values)) assert.ok(v === undefined || typeof v === 'string' || typeof v === 'boolean' || (Array.isArray(v) && v.every((x) => x !== '')));
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
    }
  });
});

test('shared secret text: any string decodes to bytes or is refused', () => {
  fuzzSync('token-secret-decode', 2000, [fc.oneof(mutatedString(SECRET_B64, SECRET.toString('base64url'), ` ${SECRET_B64}\n`), fc.string({ maxLength: 60 }))], (text) => {
    const bytes = decodeSecret(text);
    if (bytes !== undefined) assert.ok(bytes instanceof Uint8Array);
  });
});

test('limen token: any flags and secret mint a token for exactly -aud, or fail with a usage error or exit 1', async () => {
  const valid = ['-aud', 'app.example.com', '-email', 'bob@example.com', '-expiry', '1h'];
  const args = fc.oneof(argv, fc.tuple(fc.constant(valid), argv).map(([a, b]) => [...a, ...b]));
  const secretText = fc.oneof(fc.constant(SECRET_B64), mutatedString(SECRET_B64));
  await fuzzAsync('limen-token', 400, [args, secretText], async (a, secret) => {
    const out: string[] = [];
    const io: CliIo = {
      stdout: (s) => { out.push(s); }, stderr: (s) => { out.push(s); },
      env: { POMERIUM_SHARED_KEY: secret }, readStdin: async () => '', stdinIsTTY: false,
    };
    let code: number;
    try {
      code = await tokenCommand.run(a, io);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      return;
    }
    assert.ok(out.every((s) => !s.includes(SECRET_B64)), 'the secret was printed');
    if (code !== 0 || a.some((x) => x === '-h' || x === '--help')) return;
    const token = out.join('').trim();
    const key = decodeSecret(secret)!;
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    const { values } = parseTokenFlags(a);
    assert.deepEqual(payload.aud, values.aud);
    assert.ok(typeof payload.exp === 'number' && payload.exp > (payload.iat ?? 0));
  });
});
