/**
 * Pomerium-style configs (testdata/pomerium/, written from Pomerium's
 * documented keys and examples) load, load with warnings naming the ignored
 * keys, or are refused naming every refused key at once, as each file's
 * header says. Every key of the fate table appears in at least one file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError } from '../errors/index.js';
import { configReference, errorDetail, fateRows, parseConfigText, problemsOf, routeReference } from './index.js';

const testdata = fileURLToPath(new URL('./testdata', import.meta.url));
const here = `${testdata}/pomerium`;
// What an operator supplies out of band: the secrets, in the environment.
const ENV = { SHARED_SECRET: Buffer.alloc(32, 1).toString('base64'), COOKIE_SECRET: Buffer.alloc(32, 2).toString('base64') };

/** The file's text with its placeholders filled: test data paths, base64 of a file, a file's content. */
function load(name: string): string {
  return readFileSync(`${here}/${name}`, 'utf8')
    .replaceAll('@TESTDATA@', testdata)
    .replaceAll('@HERE@', here)
    .replace(/@B64:([\w.]+)@/g, (_m, f: string) => readFileSync(`${testdata}/${f}`).toString('base64'))
    .replace(/@FILE:([\w./]+)@/g, (_m, f: string) => readFileSync(`${here}/${f}`, 'utf8').trim());
}

interface Expectation { outcome: 'loads' | 'refused'; warns: string[]; refused: string[] }

function expectation(text: string): Expectation {
  const header = (name: string) => new RegExp(`^# ${name}: (.*)$`, 'm').exec(text)?.[1]?.trim().split(/\s+/) ?? [];
  const outcome = header('expect')[0];
  assert.ok(outcome === 'loads' || outcome === 'refused', 'every corpus file says what to expect');
  return { outcome, warns: header('warns'), refused: header('refused') };
}

const files = readdirSync(here).filter((f) => f.endsWith('.yaml')).sort();

describe('Pomerium-style configs', () => {
  for (const name of files) {
    test(name, () => {
      const text = load(name);
      const want = expectation(text);
      if (want.outcome === 'loads') {
        const config = parseConfigText(text, name, ENV);
        assert.deepEqual(config.warnings?.map((w) => w.key).sort(), [...want.warns].sort());
        for (const w of config.warnings ?? []) {
          assert.match(w.message, /^ignored: /);
          assert.ok(w.line !== undefined && w.line > 0, `${w.key} has a line`);
        }
        return;
      }
      assert.throws(() => parseConfigText(text, name, ENV), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        const problems = problemsOf(error);
        assert.deepEqual(problems.map((p) => p.key).sort(), [...want.refused].sort(), error.message);
        for (const p of problems) {
          const d = errorDetail(p);
          assert.ok(d?.line !== undefined && d.column !== undefined, `${p.key} has a line and column`);
          assert.ok(p.message.includes(`(${name}:${d.line}:${d.column})`), p.message);
          assert.ok(!p.message.includes('LS0tLS1CRUdJTi0tLS0t'), 'no inline value is echoed');
        }
        // The message lists every problem, one a line (what serve prints).
        assert.equal(error.message.split('\n').length, problems.length);
        return true;
      });
    });
  }

  test('every key of the fate table appears in at least one file', () => {
    const seen = new Set<string>();
    for (const name of files) {
      const doc = parse(load(name)) as Record<string, unknown>;
      for (const key of Object.keys(doc)) seen.add(`global:${key}`);
      const routes = (doc.routes ?? doc.policy ?? []) as Record<string, unknown>[];
      for (const route of routes) for (const key of Object.keys(route)) seen.add(`route:${key}`);
    }
    const rows = fateRows([...configReference().map((r) => r.key), 'policy'], routeReference().map((r) => r.key));
    const missing = rows.filter((r) => !seen.has(`${r.scope}:${r.key}`)).map((r) => `${r.scope}:${r.key}`);
    assert.deepEqual(missing, []);
  });
});

describe('messages', () => {
  test('a refused key says it is a Pomerium setting and what to use instead', () => {
    assert.throws(() => parseConfigText(load('refused-global.yaml'), 'f.yaml', ENV), (error: unknown) => {
      const byKey = new Map(problemsOf(error as ConfigError).map((p) => [p.key, p.message]));
      assert.match(byKey.get('client_ca') ?? '', /a Pomerium setting Limen does not implement: set downstream_mtls\.ca/);
      assert.match(byKey.get('use_proxy_protocol') ?? '', /a Pomerium setting Limen does not implement: .*load balancer/);
      assert.match(byKey.get('services') ?? '', /omit services or set it to all/);
      return true;
    });
  });

  test('a tunnel route names the route and its line', () => {
    assert.throws(() => parseConfigText(load('tcp-routes.yaml'), 'tcp.yaml', ENV), (error: unknown) => {
      const first = problemsOf(error as ConfigError)[0]!;
      assert.match(first.message, /^routes\[1\]\.from: route "redis" is a TCP tunnel \(tcp\+https:\/\/\), a Pomerium feature Limen does not implement yet.*\(tcp\.yaml:12:11\)$/);
      return true;
    });
  });

  test('misspelled keys get a close suggestion or none', () => {
    assert.throws(() => parseConfigText(load('typos.yaml'), 'typos.yaml', ENV), (error: unknown) => {
      const byKey = new Map(problemsOf(error as ConfigError).map((p) => [p.key, p.message]));
      assert.match(byKey.get('adress') ?? '', /did you mean "address"\?/);
      assert.match(byKey.get('idp_client_secrte') ?? '', /did you mean "idp_client_secret"\?/);
      assert.match(byKey.get('cookie_expir') ?? '', /did you mean "cookie_expire"\?/);
      assert.match(byKey.get('routes[0].allowed_user') ?? '', /did you mean "allowed_users"\?/);
      assert.match(byKey.get('routes[0].pass_identity_header') ?? '', /did you mean "pass_identity_headers"\?/);
      assert.match(byKey.get('hello_world') ?? '', /unknown key \(typos\.yaml:11:1\)$/);
      return true;
    });
  });
});
