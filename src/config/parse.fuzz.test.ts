/**
 * Fuzzing the config loader: YAML text (damaged as text, or valid YAML with
 * damaged structure), environment variables and `_FILE` variants. Every
 * input yields a frozen Config or a ConfigError naming the key, never
 * another exception, and no error message quotes a secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { awkwardJson, fuzzSync, mutatedJson, mutatedString } from '../../test/support/fuzz.js';
import { ConfigError } from '../errors/index.js';
import { parseConfigText } from './file.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
const COOKIE = Buffer.alloc(32, 9).toString('base64url');

const BASE = {
  shared_secret: SECRET,
  cookie_secret: COOKIE,
  idp_provider_url: 'https://idp.example.com',
  idp_client_id: 'limen',
  idp_client_secret: 'idp-client-secret-value',
  authenticate_service_url: 'https://authenticate.example.com',
};

const DOCS: readonly Record<string, unknown>[] = [
  { ...BASE, routes: [{ from: 'https://app.example.com', to: 'http://10.0.0.1:8080', allow_any_authenticated_user: true }] },
  {
    ...BASE,
    address: ':8443', cookie_expire: '8h', jwt_claims_headers: { 'X-Email': 'email' }, jwt_groups_filter: ['eng'], administrators: ['ada@example.com'],
    timeout_read: '30s', xff_num_trusted_hops: 1, namespaces: [{ name: 'global' }, { name: 'team', parent: 'global' }],
    routes: [
      {
        name: 'admin', from: 'https://*.example.com', prefix: '/admin', to: ['http://a:1,2', 'http://b:2'], namespace: 'team',
        policy: [{ allow: { and: [{ email: { is: 'ada@example.com' } }, { groups: { has: 'eng' } }] }, deny: { or: [{ source_ip: '10.0.0.0/8' }] } }],
        set_request_headers: { 'X-A': 'b' }, remove_request_headers: ['x-b'], timeout: '10s', allow_websockets: true,
      },
      { from: 'https://r.example.com', regex: '^/v[0-9]+/', to: 'https://up.example.com/base/', allowed_users: ['u1'], pass_identity_headers: true },
    ],
  },
  { ...BASE, policy: [{ from: 'https://old.example.com', to: 'http://x', allow_public_unauthenticated_access: true }] },
];

const TEXTS = DOCS.map((d) => stringify(d));

/** Anchors, merge keys and flow style: the YAML features a parser trips on. */
const YAML_EXTRAS = [
  `${TEXTS[0]}\nx: &a [1, 2]\n`,
  `base: &b {allow: {or: [{email: a@b.c}]}}\n${TEXTS[0]}`,
  `${TEXTS[0]!.replace('allow_any_authenticated_user: true', '<<: {allow_any_authenticated_user: true}')}`,
  `a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n`,
  '%YAML 1.2\n---\n{}\n...\n',
];

const SECRETS = [SECRET, COOKIE, BASE.idp_client_secret];
const SECRET_ENV = /SECRET|SIGNING_KEY/;

function check(text: string, env: Record<string, string>, files: Record<string, string>): void {
  const readFile = (path: string): string => {
    const f = files[path];
    if (f === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    return f;
  };
  try {
    const c = parseConfigText(text, 'limen.yaml', env, { readFile });
    assert.ok(Object.isFrozen(c));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    assert.equal(e.code, 'ERR_CONFIG_INVALID');
    const secretValues = [...SECRETS, ...Object.entries(env).filter(([k]) => SECRET_ENV.test(k) && !k.endsWith('_FILE')).map(([, v]) => v),
      ...Object.entries(files).filter(([k]) => SECRET_ENV.test(k)).map(([, v]) => v.trim())];
    // A value also given to a key that is not secret may be quoted for that key.
    const plain = new Set([...Object.entries(env).filter(([k]) => !SECRET_ENV.test(k)).map(([, v]) => v),
      ...Object.entries(files).filter(([k]) => !SECRET_ENV.test(k)).map(([, v]) => v.trim())]);
    for (const s of secretValues.filter((v) => ![...plain].some((p) => p.includes(v)))) {
      if (s.length >= 12 && e.message.includes(s)) assert.fail(`error quotes a secret: ${e.message}`);
    }
  }
}

test('config YAML: damaged text or structure yields a Config or a ConfigError, never another exception', () => {
  const text = fc.oneof(
    { weight: 3, arbitrary: mutatedJson(...DOCS).map((d) => stringify(d)) },
    { weight: 2, arbitrary: mutatedString(...TEXTS, ...YAML_EXTRAS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
  );
  fuzzSync('config-yaml', 300, [text], (t) => check(t, {}, {}));
});

const ENV_KEYS = [
  'SHARED_SECRET', 'COOKIE_SECRET', 'IDP_CLIENT_SECRET', 'ADDRESS', 'COOKIE_EXPIRE', 'JWT_CLAIMS_HEADERS', 'IDP_REQUEST_PARAMS', 'IDP_SCOPES',
  'NAMESPACES', 'CERTIFICATES', 'DOWNSTREAM_MTLS', 'XFF_NUM_TRUSTED_HOPS', 'INSECURE_SERVER', 'ADMINISTRATORS', 'ROUTES', 'LOG_LEVEL', 'SIGNING_KEY',
];

test('config environment: any variables and _FILE contents yield a Config or a ConfigError, and a secret is never quoted', () => {
  const envValue = fc.oneof(
    mutatedString(SECRET, 'email,groups', 'X-Email=email,X-Groups=groups', '{"X-Email":"email"}', '[{"name":"global"}]', 'true', '1', '30s', ':443', 'a@b.c,d@e.f'),
    awkwardJson.map((v) => JSON.stringify(v) ?? ''),
  );
  const envEntry = fc.tuple(fc.constantFrom(...ENV_KEYS), fc.boolean(), envValue);
  fuzzSync('config-env', 400, [fc.array(envEntry, { maxLength: 4 }), fc.constantFrom(...TEXTS)], (entries, text) => {
    const env: Record<string, string> = {};
    const files: Record<string, string> = {};
    for (const [key, viaFile, value] of entries) {
      if (viaFile) {
        env[`${key}_FILE`] = `/run/secrets/${key}`;
        files[`/run/secrets/${key}`] = `${value}\n`;
      } else env[key] = value;
    }
    check(text, env, files);
  });
});
