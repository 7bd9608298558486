import { generateKeyPairSync } from 'node:crypto';
import { createVerifier, isVerifyError } from '@limen/verify';
import { signingKeyFromPem } from '../identity/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';

const keysGenerate: Command = {
  name: 'keys generate',
  summary: 'Print a new signing key for `signing_key` (EC P-256, or RSA)',
  usage: `Usage: limen keys generate [--rsa] [--pem]

Prints a new private key for the identity assertion, base64-encoded as the
\`signing_key\` setting expects (or as PEM with --pem), followed on stderr by
its key id (kid) and algorithm.

Rotation without downtime:
  1. Append the new key AFTER the current one in signing_key (both PEM blocks,
     base64 of the concatenation). It is published in the JWKS but does not
     sign yet. Wait until verifiers have refreshed their key sets
     (JWKS max-age is 60 s; @limen/verify refetches on an unknown kid).
  2. Move the new key FIRST. It signs; the old one stays published, so
     assertions it signed keep verifying until they expire (5 minutes).
  3. After 5 minutes more, remove the old key.

Options:
  --rsa    an RSA-2048 key (RS256) instead of EC P-256 (ES256)
  --pem    print PEM instead of base64`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, { rsa: { type: 'boolean' }, pem: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const { privateKey } = values.rsa
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const key = await signingKeyFromPem(pem);
    io.stdout(values.pem ? pem : `${Buffer.from(pem).toString('base64')}\n`);
    io.stderr(`kid ${key.kid} alg ${key.alg}\n`);
    return 0;
  },
};

const jwtVerify: Command = {
  name: 'jwt verify',
  summary: 'Verify an X-Pomerium-Jwt-Assertion against a JWKS and print its claims',
  usage: `Usage: limen jwt verify --jwks URL --aud HOST [--iss ISS] [--max-age SECONDS] [TOKEN | -]

Verifies an assertion as an upstream app would (signature against the JWKS,
alg ES256/RS256 only, aud, iss, exp and iat with 60 s of skew) and prints the
claims as JSON. The token comes from the argument, or from standard input
when it is "-" or absent. Exits 0 when it verifies; otherwise prints the
reason code (ERR_EXPIRED, ERR_SIGNATURE_INVALID, ...) and exits 1.

Options:
  --jwks URL        the key set, e.g. https://app.example.com/.well-known/pomerium/jwks.json
  --aud HOST        the route host the assertion must be for
  --iss ISS         the issuer it must name (host or https://host/)
  --max-age S       refuse assertions issued more than S seconds ago`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      jwks: { type: 'string' }, aud: { type: 'string' }, iss: { type: 'string' }, 'max-age': { type: 'string' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.jwks || !values.aud) throw new UsageError('--jwks URL and --aud HOST are required');
    if (positionals.length > 1) throw new UsageError('give one token');
    if (!/^https?:\/\//i.test(values.jwks) || !URL.canParse(values.jwks)) throw new UsageError(`--jwks: expected an http(s) URL, got ${JSON.stringify(values.jwks.slice(0, 80))}`);
    const arg = positionals[0];
    const token = (arg === undefined || arg === '-' ? await io.readStdin() : arg).trim();
    const maxAge = values['max-age'] === undefined ? undefined : Number(values['max-age']);
    if (maxAge !== undefined && !(/^\d+$/.test(values['max-age']!) && maxAge > 0)) throw new UsageError(`--max-age: expected a positive whole number of seconds, got ${JSON.stringify(values['max-age']!.slice(0, 40))}`);
    const verifier = createVerifier({
      jwksUrl: values.jwks,
      audience: values.aud,
      ...(values.iss ? { issuer: values.iss } : {}),
      ...(maxAge !== undefined ? { maxAge } : {}),
    });
    try {
      const claims = await verifier.verify(token);
      io.stdout(`${JSON.stringify(claims, null, 2)}\n`);
      return 0;
    } catch (e) {
      if (isVerifyError(e)) {
        const where = e.code === 'ERR_JWKS_UNAVAILABLE' ? ` (${jwksUrlForMessage(values.jwks)})` : '';
        io.stderr(`invalid: ${e.code}: ${e.message}${where}\n`);
        return 1;
      }
      throw e;
    }
  },
};

/** The JWKS URL without credentials, query or fragment, for an error message. */
function jwksUrlForMessage(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'the --jwks URL is not a URL';
  }
}

/** CLI commands for identity: signing keys and assertions. */
export const identityCommands: readonly Command[] = [keysGenerate, jwtVerify];
