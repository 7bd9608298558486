import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RouteConfig } from '../config/index.js';
import { RouteTable } from '../proxy/index.js';
import { normalizePath, hasReasonWords } from '../authz/index.js';
import { UPSTREAM_READINGS } from '../../test/support/readings.js';
import { canonicalizeRequest, canonicalPath, STRICT_REQUEST_RULES, type RequestRules } from './canonical.js';

const relaxed = (r: Partial<RequestRules>): RequestRules => ({ ...STRICT_REQUEST_RULES, ...r });

describe('canonicalPath', () => {
  // [raw path, canonical path or refusal reason, rules]
  const cases: [string, string, Partial<RequestRules>?][] = [
    ['/', '/'],
    ['/admin', '/admin'],
    ['/admin/', '/admin/'],
    ['', '/'],
    ['/%61dmin', '/admin'],
    ['/%7euser', '/~user'],
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/x/../admin', '/admin'],
    ['/x/%2e%2e/admin', '/admin'],
    ['/x/.%2e/admin', '/admin'],
    ['/x/%2E./admin', '/admin'],
    ['/../../admin', '/admin'],
    ['/admin/.', '/admin/'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%3fb', '/a%3Fb'], // an encoded ? is data
    ['/a%23b', '/a%23b'],
    ['/100%25', '/100%25'], // a literal % that escapes nothing after it
    ['/a%20b', '/a%20b'],
    ['/a+b', '/a+b'],
    ['/a"b<c>{d}|^`', '/a%22b%3Cc%3E%7Bd%7D%7C%5E%60'], // as a browser escapes them
    ['/a b', '/a%20b'],
    ['/a%22b', '/a%22b'],
    // Encoded separators (Pomerium's default: reject_request).
    ['/admin%2fx', 'path-encoded-slash'],
    ['/%2Fadmin/x', 'path-encoded-slash'],
    ['/public/..%2fadmin', 'path-encoded-slash'],
    ['/public/..%5cadmin', 'path-encoded-slash'],
    ['/public/..%5Cadmin', 'path-encoded-slash'],
    ['/admin%2fx', '/admin%2Fx', { escapedSlashes: 'keep_unchanged' }],
    ['/admin%2fx', '/admin/x', { escapedSlashes: 'unescape_and_forward' }],
    ['/public/..%2fadmin', '/admin', { escapedSlashes: 'unescape_and_forward' }],
    ['/public/..%5cadmin', '/admin', { escapedSlashes: 'unescape_and_forward' }],
    // Backslash.
    ['/public\\..\\admin', 'path-backslash'],
    ['/a\\b', '/a\\b', { allowBackslash: true }],
    // Path parameters (Tomcat, Jetty, Spring).
    ['/admin;x=1/y', 'path-parameter'],
    ['/public/..;/headers', 'path-parameter'],
    ['/public/%3b/x', 'path-parameter'],
    ['/a;b', '/a;b', { allowPathParameters: true }],
    ['/a%3bb', '/a%3Bb', { allowPathParameters: true }],
    // Invalid escapes and invalid UTF-8.
    ['/%zz', 'path-invalid-escape'],
    ['/a%', 'path-invalid-escape'],
    ['/a%2', 'path-invalid-escape'],
    ['/%c0%af', 'path-invalid-utf8'], // overlong /
    ['/%e0%80%af', 'path-invalid-utf8'],
    ['/%c3', 'path-invalid-utf8'],
    ['/%c3x', 'path-invalid-utf8'],
    ['/%ed%a0%80', 'path-invalid-utf8'], // a UTF-16 surrogate
    ['/%zz', '/%25zz', { allowInvalidEscapes: true }],
    ['/%c0%af', '/%C0%AF', { allowInvalidEscapes: true }],
    ['/public/%ef%bc%8f..%ef%bc%8fadmin', 'path-confusable-character'], // fullwidth solidus
    ['/public/%ef%bc%8e%ef%bc%8e/admin', 'path-confusable-character'], // fullwidth full stops
    ['/%ef%bc%bc', 'path-confusable-character'], // fullwidth reverse solidus
    ['/%ef%bc%9badmin', 'path-confusable-character'], // fullwidth semicolon
    ['/%ef%bc%a1', '/%EF%BC%A1'], // fullwidth A: not a separator
    ['/%e5%95%86%e5%93%81/%ef%bc%91', '/%E5%95%86%E5%93%81/%EF%BC%91'], // CJK and a fullwidth digit
    ['/%ef%bc%8f', '/%EF%BC%8F', { allowInvalidEscapes: true }],
    // Double encoding.
    ['/%252f', 'path-double-encoded'],
    ['/%25%32%66', 'path-double-encoded'],
    ['/%252e%252e/admin', 'path-double-encoded'],
    ['/%2%66', 'path-invalid-escape'],
    ['/%2%66', 'path-double-encoded', { allowInvalidEscapes: true }],
    ['/%252f', '/%252f', { allowDoubleEncoding: true }],
    // Control characters, raw or encoded.
    ['/a%00b', 'path-control-character'],
    ['/a%0ab', 'path-control-character'],
    ['/a%7f', 'path-control-character'],
    ['/a\u0000b', 'path-control-character'],
    ['/a\tb', 'path-control-character'],
    ['/a%00b', '/a%00b', { allowEncodedControlCharacters: true }],
    ['/a\u0000b', 'path-control-character', { allowEncodedControlCharacters: true }],
    // Anything else outside ASCII must be encoded; a fragment is never sent.
    ['/caf\u00e9', 'path-invalid-character'],
    ['/a#b', 'target-fragment'],
  ];
  for (const [raw, want, rules] of cases) {
    test(`${JSON.stringify(raw)}${rules ? ` ${JSON.stringify(rules)}` : ''} → ${want}`, () => {
      const got = canonicalPath(raw, relaxed(rules ?? {}));
      assert.equal(got.ok ? got.path : got.reason, want);
      if (!got.ok) assert.ok(hasReasonWords(got.reason), `no words for ${got.reason}`);
    });
  }

  test('unescape_and_redirect asks for a redirect only when there was something to unescape', () => {
    const rules = relaxed({ escapedSlashes: 'unescape_and_redirect' });
    assert.deepEqual(canonicalPath('/a%2Fb', rules), { ok: true, path: '/a/b', redirect: true });
    assert.deepEqual(canonicalPath('/a/../b', rules), { ok: true, path: '/b', redirect: false });
  });
});

describe('canonicalizeRequest', () => {
  const head = (url: string, ...headers: string[]) => ({ url, rawHeaders: headers.length > 0 ? headers : ['Host', 'app.example.com'] });
  const cases: [string, ReturnType<typeof head>, string | { host: string; port?: number; hostHeader: string; path: string; query: string }, Partial<RequestRules>?][] = [
    ['origin-form', head('/a/../b?x=%2F'), { host: 'app.example.com', hostHeader: 'app.example.com', path: '/b', query: '?x=%2F' }],
    ['Host case and port', head('/', 'Host', 'App.Example.COM:0443'), { host: 'app.example.com', port: 443, hostHeader: 'app.example.com:443', path: '/', query: '' }],
    ['IPv6 Host', head('/', 'Host', '[::1]:8443'), { host: '::1', port: 8443, hostHeader: '[::1]:8443', path: '/', query: '' }],
    ['absolute-form, same host', head('http://APP.example.com/x?y', 'Host', 'app.example.com'), { host: 'app.example.com', hostHeader: 'app.example.com', path: '/x', query: '?y' }],
    ['absolute-form without a path', head('https://app.example.com', 'Host', 'app.example.com'), { host: 'app.example.com', hostHeader: 'app.example.com', path: '/', query: '' }],
    ['absolute-form, other host', head('http://other.example.com/admin', 'Host', 'app.example.com'), 'host-mismatch'],
    ['absolute-form, other port', head('http://app.example.com:8080/', 'Host', 'app.example.com'), 'host-mismatch'],
    ['absolute-form with userinfo', head('http://app.example.com@other/', 'Host', 'app.example.com'), 'host-invalid'],
    ['asterisk-form', head('*'), 'target-asterisk-form'],
    ['authority-form', head('app.example.com:443'), 'target-invalid'],
    ['other scheme', head('ftp://app.example.com/'), 'target-invalid'],
    ['fragment', head('/a?b#c'), 'target-fragment'],
    ['no Host', head('/', 'Accept', '*/*'), 'host-missing'],
    ['empty Host', head('/', 'Host', ''), 'host-missing'],
    ['two Hosts', head('/', 'Host', 'app.example.com', 'host', 'admin.example.com'), 'host-duplicate'],
    ['Host with userinfo', head('/', 'Host', 'user@app.example.com'), 'host-invalid'],
    ['Host with a trailing dot', head('/', 'Host', 'app.example.com.'), 'host-invalid'],
    ['Host with an empty label', head('/', 'Host', 'app..example.com'), 'host-invalid'],
    ['Host with a path', head('/', 'Host', 'app.example.com/x'), 'host-invalid'],
    ['Host port 0', head('/', 'Host', 'app.example.com:0'), 'host-invalid'],
    ['two Authorization headers', head('/', 'Host', 'app.example.com', 'Authorization', 'Basic a', 'authorization', 'Pomerium t'), 'header-duplicate'],
    ['two X-Pomerium-Authorization headers', head('/', 'Host', 'app.example.com', 'X-Pomerium-Authorization', 'a', 'X-Pomerium-Authorization', 'b'), 'header-duplicate'],
    ['underscore header', head('/', 'Host', 'app.example.com', 'X_Pomerium_Claim_Email', 'a@b'), 'header-name-underscore'],
    ['gzip then chunked', head('/', 'Host', 'app.example.com', 'Transfer-Encoding', 'gzip, chunked'), 'transfer-coding-unsupported'],
    ['identity then chunked', head('/', 'Host', 'app.example.com', 'Transfer-Encoding', 'identity, chunked'), 'transfer-coding-unsupported'],
    ['chunked alone, any case', head('/', 'Host', 'app.example.com', 'transfer-encoding', ' Chunked '), 'accepted'],
    ['underscore header, dropped later', head('/', 'Host', 'app.example.com', 'X_Forwarded_For', '1.2.3.4'),
      { host: 'app.example.com', hostHeader: 'app.example.com', path: '/', query: '' }, { headersWithUnderscores: 'drop_header' }],
    ['encoded slash in the path of an absolute-form target', head('http://app.example.com/a%2fb', 'Host', 'app.example.com'), 'path-encoded-slash'],
  ];
  for (const [name, h, want, rules] of cases) {
    test(name, () => {
      const got = canonicalizeRequest(h, relaxed(rules ?? {}));
      if (typeof want === 'string') {
        assert.equal(got.ok ? 'accepted' : got.reason, want);
        return;
      }
      assert.ok(got.ok, got.ok ? '' : got.reason);
      assert.deepEqual({ host: got.host, ...(got.port !== undefined ? { port: got.port } : {}), hostHeader: got.hostHeader, path: got.path, query: got.query }, want);
    });
  }
});

// ---------------------------------------------------------------------------
// Fuzzing: FUZZ_RUNS sets the budget (`npm run fuzz`); npm test runs a small fixed one.

const RUNS = Number(process.env.FUZZ_RUNS) > 0 ? Number(process.env.FUZZ_RUNS) : 300;

const route = (prefix: string | undefined, name: string, path?: string): { config: RouteConfig; compiled: string } => ({
  config: { fromHost: 'app.example.com', fromPort: undefined, prefix, path, regex: undefined, name } as unknown as RouteConfig,
  compiled: name,
});
const TABLE = new RouteTable([
  route(undefined, 'admin-exact', '/admin'),
  route('/admin/', 'admin'),
  route('/public/', 'public'),
  route('/api/v1/', 'api'),
  route('/', 'default'),
]);
const routeOf = (path: string): string | undefined => TABLE.match('app.example.com', undefined, path)?.compiled;

const NAMES = ['admin', 'public', 'api', 'v1', 'a', '.', '..', '%2e', '%2e%2e', '%61dmin'];
const TRICKS = [
  '/', '%2f', '%2F', '%5c', '%5C', '\\', ';', '%3b', '..;', ';x=1', '%25', '%', '%zz', '%2', '%32', '%66', '%252f', '%25%32%66',
  '%00', '%0a', '%7f', '%c0%af', '%e0%80%af', '%ef%bc%8f', '%ef%bc%8e', '%e2%82%ac', '%c3', '?', '#', '~', '%7e', ' ', '\u00e9', '\t', '+', '%20', '@', ':',
];
// Segments of one to three tokens, so that route names land where routes match.
const segment = fc.array(fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...TRICKS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 3, unit: 'binary-ascii' }) },
), { minLength: 0, maxLength: 3 }).map((parts) => parts.join(''));
const rawPath = fc.array(segment, { maxLength: 6 }).map((segs) => `/${segs.join('/')}`);

const RULE_SETS: Record<string, RequestRules> = {
  default: STRICT_REQUEST_RULES,
  'unescape_and_forward': relaxed({ escapedSlashes: 'unescape_and_forward' }),
  'unescape_and_redirect': relaxed({ escapedSlashes: 'unescape_and_redirect' }),
};

/** The property: a refusal with words, or a canonical path that is a fixed point and that every upstream reading routes where Limen did. */
const oneMeaning = (rules: RequestRules) => fc.property(rawPath, (raw) => {
  const c = canonicalPath(raw, rules);
  if (!c.ok) {
    assert.ok(hasReasonWords(c.reason), c.reason);
    return;
  }
  const again = canonicalPath(c.path, rules);
  assert.deepEqual(again, { ok: true, path: c.path, redirect: false }, 'canonicalization is idempotent');
  assert.equal(normalizePath(c.path), c.path, 'the http_path criterion sees the routed path');
  const limen = routeOf(c.path);
  for (const [reading, read] of Object.entries(UPSTREAM_READINGS)) {
    assert.equal(routeOf(read(c.path)), limen, `${reading}: ${JSON.stringify(c.path)} → ${JSON.stringify(read(c.path))}`);
  }
});

describe('canonicalPath, fuzzed', () => {
  for (const [name, rules] of Object.entries(RULE_SETS)) {
    test(`${name}: a value or a reason with words; idempotent; policy sees the same path; every upstream reading routes alike`, () => {
      fc.assert(oneMeaning(rules), { numRuns: RUNS });
    });
  }

  // The risk docs/security.md states for each relaxation is real: the same
  // property finds the bypass it opens (fixed seed, so this is deterministic).
  const RELAXATIONS: Record<string, Partial<RequestRules>> = {
    'path_with_escaped_slashes_action: keep_unchanged': { escapedSlashes: 'keep_unchanged' },
    'allow_backslash_in_path': { allowBackslash: true },
    'allow_path_parameters': { allowPathParameters: true },
    'allow_double_encoded_path': { allowDoubleEncoding: true },
  };
  for (const [name, rules] of Object.entries(RELAXATIONS)) {
    test(`${name} lets some upstream reading route elsewhere`, () => {
      const out = fc.check(oneMeaning(relaxed(rules)), { numRuns: 20_000, seed: 7 });
      assert.equal(out.failed, true, `no counterexample for ${name}`);
    });
  }

  test('any request head: a value or a refusal, never an exception', () => {
    const header = fc.tuple(fc.constantFrom('Host', 'host', 'X_A', 'X-A', 'Accept'), fc.string({ maxLength: 20 }));
    fc.assert(fc.property(
      fc.oneof(rawPath, fc.string({ maxLength: 40 }), rawPath.map((p) => `http://app.example.com${p}`)),
      fc.array(header, { maxLength: 4 }),
      (url, headers) => {
        const got = canonicalizeRequest({ url, rawHeaders: headers.flat() });
        if (!got.ok) assert.ok(hasReasonWords(got.reason), got.reason);
        else assert.ok(got.path.startsWith('/'));
      },
    ), { numRuns: RUNS });
  });
});
