/**
 * Suggestions for unknown keys are close or absent (issue 15: `autocert` →
 * `address`, `autocert_dir` → `idp_client_id`, `services` → `routes` were
 * wrong before autocert was built), and every error in a document is reported at once with its line
 * and column.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../errors/index.js';
import { nearestKey } from './check.js';
import { configReference, errorDetail, parseConfigText, problemsOf, routeReference } from './index.js';

const GLOBAL = configReference().map((r) => r.key);
const ROUTE = routeReference().map((r) => r.key);

describe('nearestKey suggests only close keys', () => {
  const cases: { name: string; keys: readonly string[]; want: string | undefined }[] = [
    { name: 'autocert', keys: GLOBAL.filter((k) => !k.startsWith('autocert')), want: undefined },
    { name: 'autocert_dir', keys: GLOBAL.filter((k) => !k.startsWith('autocert')), want: undefined },
    { name: 'autocert_directory', keys: GLOBAL, want: 'autocert_dir' },
    { name: 'services', keys: GLOBAL, want: undefined },
    { name: 'hello_world', keys: GLOBAL, want: undefined },
    { name: 'adress', keys: GLOBAL, want: 'address' },
    { name: 'Cookie-Secret', keys: GLOBAL, want: 'cookie_secret' },
    { name: 'idp_client_secrte', keys: GLOBAL, want: 'idp_client_secret' },
    { name: 'idp_client', keys: GLOBAL, want: 'idp_client_id' },
    { name: 'log_levels', keys: GLOBAL, want: 'log_level' },
    { name: 'sharedsecret', keys: GLOBAL, want: 'shared_secret' },
    { name: 'allowed_user', keys: ROUTE, want: 'allowed_users' },
    { name: 'tls_custom_ca_fil', keys: ROUTE, want: 'tls_custom_ca_file' },
    { name: 'fro', keys: ROUTE, want: 'from' },
    { name: 'xyz', keys: ROUTE, want: undefined },
    { name: 'keyfile', keys: ['cert', 'key'], want: 'key' },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.want ?? 'no suggestion'}`, () => assert.equal(nearestKey(c.name, c.keys), c.want));
  }
});

describe('every error at once, with line and column', () => {
  const text = [
    'insecure_server: true', //                        1
    'authenticate_service_url: ftp://auth.example', // 2
    'idp_client_id: x', //                             3
    'cookie_expire: soon', //                          4
    'log_level: loud', //                              5
    'adress: ":80"', //                                6
    'routes:', //                                      7
    '  - from: http://a.localhost', //                 8
    '    to: http://127.0.0.1:1', //                   9
    '    timeout: never', //                           10
    '  - from: http://b.localhost', //                 11
    '    allowed_user: [x]', //                        12
    '',
  ].join('\n');
  const want: [string, number, number][] = [
    ['authenticate_service_url', 2, 27],
    ['cookie_expire', 4, 16],
    ['log_level', 5, 12],
    ['adress', 6, 1],
    ['routes[0].timeout', 10, 14],
    ['routes[1].to', 11, 5],
    ['routes[1].allowed_user', 12, 5],
  ];
  test('one throw names all of them, in file order', () => {
    const env = { SHARED_SECRET: Buffer.alloc(32, 1).toString('base64'), COOKIE_SECRET: Buffer.alloc(32, 2).toString('base64'), IDP_PROVIDER_URL: 'https://idp.example.com' };
    assert.throws(() => parseConfigText(text, 'c.yaml', env), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      const got = problemsOf(error).map((p) => [p.key, errorDetail(p)?.line, errorDetail(p)?.column]);
      assert.deepEqual(got, want, error.message);
      assert.equal(error.message.split('\n').length, want.length);
      return true;
    });
  });
});
