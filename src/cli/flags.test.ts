/**
 * Flags with values the CLI does not know, and flags that contradict each
 * other: one line naming the flag (and the valid values where there is a
 * list), "see 'limen X --help'", exit 2, nothing on stdout. Run in-process
 * against a config with a SQLite store in a temporary directory.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { AUDIT_KINDS } from '../audit/index.js';
import { openStore } from '../store/index.js';
import { runCliInProcess as run, writeCliConfig } from '../../test/support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'limen-cli-flags-'));
const { config, db } = writeCliConfig(dir, { namespaces: [{ name: 'eng', parent: 'global' }] });
const cases = join(dir, 'cases.yaml');

before(async () => {
  writeFileSync(cases, stringify({ cases: [{ url: 'https://app.example.com/', want: 'login' }] }));
  // A route removed from the config still has its events in the trail.
  const store = await openStore({ type: 'file', connectionString: db });
  await store.appendAudit([{ time: Date.now(), kind: 'authorize', decision: 'deny', route: 'retired', details: {} }]);
  await store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

const c = ['--config', config];

test('a flag value outside its set, or in the wrong form, is one usage line naming the flag and what it takes', async () => {
  const table: { argv: string[]; want: RegExp }[] = [
    { argv: ['audit', 'query', ...c, '--kind', 'nonsense'], want: /--kind: expected one of authorize, websocket_closed, .*user\.create.*data\.delete; got "nonsense"/ },
    { argv: ['audit', 'query', ...c, '--kind', 'User.Create'], want: /--kind: expected one of .*; got "User\.Create"/ },
    { argv: ['audit', 'query', ...c, '--decision', 'maybe'], want: /--decision: expected allow, deny, login, got "maybe"/ },
    { argv: ['audit', 'query', ...c, '--since', 'yesterday'], want: /--since: expected a duration \(1h, 7d\), an ISO-8601 time or ms since epoch, got "yesterday"/ },
    { argv: ['audit', 'query', ...c, '--until', '2030-13-45'], want: /--until: expected a duration/ },
    ...['0', '-5', '1.5', 'ten', '1e3', '10000000'].map((v) => ({ argv: ['audit', 'query', ...c, `--limit=${v}`], want: new RegExp(`--limit: expected a whole number from 1 to 999999, got "${v.replace('.', '\\.')}"`) })),
    { argv: ['audit', 'query', ...c, '--route', 'nowhere'], want: /--route: no route "nowhere" in the config or the audit trail; routes: app/ },
    { argv: ['service-account', 'list', ...c, '--namespace', 'nowhere'], want: /--namespace: namespace "nowhere" is not declared in the config; namespaces: global, eng/ },
    { argv: ['service-account', 'create', ...c, '--user', 'bot', '--namespace', 'nowhere'], want: /--namespace: namespace "nowhere" is not declared in the config; namespaces: global, eng/ },
    { argv: ['policy', 'explain', ...c, '--url', 'https://app.example.com/', '--no-identity', '--client-cert', 'maybe'], want: /--client-cert: expected none, invalid, valid, got "maybe"/ },
    { argv: ['policy', 'explain', ...c, '--url', 'https://app.example.com/', '--no-identity', '--time', 'noon'], want: /--time: expected an ISO-8601 date-time/ },
    { argv: ['service-account', 'create', ...c, '--user', 'bot', '--role', 'root'], want: /--role: unknown role "root"; known roles: admin/ },
    ...['soon', '-5m', '2001-01-01T00:00:00Z'].map((v) => ({ argv: ['service-account', 'create', ...c, '--user', 'bot', `--expires-in=${v}`], want: /--expires-in: expiry / })),
    { argv: ['health'], want: /no health address: give --address, set HEALTH_CHECK_ADDR, or set health_check_addr in --config/ },
    { argv: ['health', '--address', 'nowhere'], want: /expected an address like ":9901" or "127\.0\.0\.1:9901", got "nowhere"/ },
    { argv: ['health', '--config', '/nonexistent/limen.yaml'], want: /--config: cannot read \/nonexistent\/limen\.yaml/ },
    { argv: ['health', '--address', ':9', '--check', 'live'], want: /--check: expected readyz, healthz, startupz, got "live"/ },
    ...['0', 'abc', '-1'].map((v) => ({ argv: ['health', '--address', ':9', `--timeout=${v}`], want: /--timeout: expected a positive number of seconds/ })),
    { argv: ['jwt', 'verify', '--jwks', 'keys.json', '--aud', 'app.example.com', 'x.y.z'], want: /--jwks: expected an http\(s\) URL, got "keys\.json"/ },
    ...['0', '1.5', 'soon'].map((v) => ({ argv: ['jwt', 'verify', '--jwks', 'https://a.example/jwks', '--aud', 'a', `--max-age=${v}`, 'x.y.z'], want: /--max-age: expected a positive whole number of seconds/ })),
    { argv: ['serve', '--port', '99999'], want: /--port: expected a port number, got "99999"/ },
    { argv: ['token', '-aud', 'a.example.com', '-email', 'a@example.com', '-expiry', 'forever'], want: /-expiry: expected a positive duration/ },
    { argv: ['data', 'load', ...c, '--type', 'bad type', '-'], want: /--type: "bad type" must be letters/ },
  ];
  for (const { argv, want } of table) {
    const r = await run(argv);
    const name = argv.slice(0, argv[0] === 'service-account' || argv[0] === 'audit' || argv[0] === 'policy' || argv[0] === 'jwt' || argv[0] === 'data' ? 2 : 1).join(' ');
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', argv.join(' '));
    assert.match(r.stderr, new RegExp(`^limen ${name}: [^\\n]*; see 'limen ${name} --help'\\n$`), argv.join(' '));
    assert.match(r.stderr, want, argv.join(' '));
  }
});

test('contradictory flags are refused with one line saying which', async () => {
  const table: { argv: string[]; want: RegExp }[] = [
    { argv: ['serve', ...c, '--port', '8443'], want: /--port is for the quickstart/ },
    { argv: ['serve', ...c, '--data', './d'], want: /--data is for the quickstart/ },
    { argv: ['audit', 'query', ...c, '--since', '1h', '--until', '2h'], want: /--since "1h" is not before --until "2h", so no event can match/ },
    { argv: ['audit', 'query', ...c, '--since', '2030-01-02T00:00:00Z', '--until', '2030-01-01T00:00:00Z'], want: /is not before --until/ },
    { argv: ['audit', 'query', ...c, '--decision', 'deny', '--kind', 'sign_in'], want: /--decision applies to authorize and websocket_closed events; --kind sign_in has none/ },
    { argv: ['health', '--address', ':9', ...c], want: /give --address or --config, not both/ },
    { argv: ['token', 'revoke', '-', ...c, '--expires-at', '2030-01-01T00:00:00Z'], want: /--expires-at is taken from the token's exp/ },
    { argv: ['policy', 'test', ...c, '--verbose', '--json', cases], want: /--verbose lists passing cases .*give one of them/ },
    { argv: ['policy', 'explain', ...c, '--url', 'https://app.example.com/', '--no-identity', '--email', 'a@example.com'], want: /--no-identity cannot be combined/ },
    { argv: ['policy', 'explain', ...c, '--url', 'https://app.example.com/', '--no-identity', '--cors-preflight', '--method', 'GET'], want: /a CORS preflight is an OPTIONS request/ },
    { argv: ['groups', 'members', ...c, 'staff', '--add', 'ada@example.com', '--remove', 'ADA@example.com'], want: /"ada@example\.com" is given to both --add and --remove/ },
    { argv: ['sessions', 'revoke', ...c, 'sid', '--user', 'ada@example.com'], want: /give a session ID or --user EMAIL\|ID \(not both\)/ },
    { argv: ['service-account', 'create', ...c, '--user', 'bot', '--as-user', 'ada@example.com'], want: /give exactly one of --user ID or --as-user/ },
  ];
  for (const { argv, want } of table) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', argv.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.match(r.stderr, / see 'limen [a-z -]+ --help'\n$/, argv.join(' '));
    assert.match(r.stderr, want, argv.join(' '));
  }
});

test('every audit kind, decision and route the config or the trail knows is accepted', async () => {
  for (const kind of Object.keys(AUDIT_KINDS)) {
    const r = await run(['audit', 'query', ...c, '--kind', kind, '--json']);
    assert.equal(r.code, 0, `${kind}: ${r.stderr}`);
  }
  for (const decision of ['allow', 'deny', 'login']) assert.equal((await run(['audit', 'query', ...c, '--decision', decision, '--kind', 'authorize'])).code, 0);
  assert.equal((await run(['audit', 'query', ...c, '--route', 'app'])).code, 0, 'a configured route with no events yet');
  const retired = await run(['audit', 'query', ...c, '--route', 'retired', '--json']);
  assert.equal(retired.code, 0, retired.stderr);
  assert.deepEqual((JSON.parse(retired.stdout) as { route: string }[]).map((e) => e.route), ['retired'], 'a route only the trail remembers');
  assert.equal((await run(['audit', 'query', ...c, '--since', '1h', '--until', '2030-01-01T00:00:00Z', '--limit', '5'])).code, 0);
});
