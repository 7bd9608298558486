/**
 * whoami: a tiny upstream app that says who is asking, verified.
 *
 *   npx tsx examples/whoami/server.ts --jwks URL --aud HOST [--issuer HOST] [--port N] [--listen ADDR]
 *
 * Every request must carry a valid X-Pomerium-Jwt-Assertion (and, in a chain
 * of services, may carry X-Pomerium-Jwt-Assertion-For); anything else gets
 * 401 {"error": code}. It uses the verifier package from source.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createVerifier, nodeMiddleware, type LimenClaims, type LimenIdentity } from '../../packages/verify/src/index.js';

const usage = 'usage: whoami --jwks URL --aud HOST [--issuer HOST] [--port 8080] [--listen 127.0.0.1]';

const { values } = parseArgs({
  options: {
    jwks: { type: 'string' },
    aud: { type: 'string', multiple: true },
    issuer: { type: 'string' },
    port: { type: 'string', default: '8080' },
    listen: { type: 'string', default: '127.0.0.1' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help === true || values.aud === undefined || (values.jwks === undefined && values.issuer === undefined)) {
  console.error(usage);
  process.exit(values.help === true ? 0 : 2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be 0-65535\n${usage}`);
  process.exit(2);
}

const verifier = createVerifier({
  ...(values.jwks === undefined ? {} : { jwksUrl: values.jwks }),
  ...(values.issuer === undefined ? {} : { issuer: values.issuer }),
  audience: values.aud,
});
const requireIdentity = nodeMiddleware(verifier);

function describe(claims: LimenClaims): string {
  const who = claims.email !== '' ? `${claims.email} (${claims.sub})` : claims.sub;
  const groups = claims.groups.length > 0 ? ` groups=[${claims.groups.join(',')}]` : '';
  const actor = claims.act === undefined ? '' : ` impersonated by ${claims.act.email || claims.act.sub}`;
  return `${who}${groups}${actor}`;
}

function summary(identity: LimenIdentity): string {
  const line = describe(identity.claims);
  return identity.originalUser === undefined ? line : `${line}, on behalf of ${describe(identity.originalUser)}`;
}

const server = createServer((req, res) => {
  requireIdentity(req, res, (err) => {
    if (err !== undefined) {
      console.error('whoami: internal error', err);
      res.statusCode = 500;
      res.end();
      return;
    }
    const identity = (req as typeof req & { limen: LimenIdentity }).limen;
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${summary(identity)}`);
    const body = { summary: summary(identity), claims: identity.claims, originalUser: identity.originalUser ?? null };
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(`${JSON.stringify(body, null, 2)}\n`);
  });
});

server.listen(port, values.listen, () => {
  const { address, port: bound } = server.address() as AddressInfo;
  console.log(`whoami listening on http://${address}:${bound} for ${values.aud?.join(', ')}`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
