/**
 * `limen policy check|explain|test` as an operator runs them: child
 * processes on config and case files in a temporary directory. Flag
 * handling (bad input in loops) runs the same `main` in this process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/args.js';
import { runCli } from './service-accounts-helpers.js';
import { COOKIE_SECRET, SHARED_SECRET } from './stack.js';

/** The global keys every test config needs (nothing listens: the CLI only loads it). */
const HEADER = `shared_secret: ${SHARED_SECRET}
cookie_secret: ${COOKIE_SECRET}
insecure_server: true
authenticate_service_url: https://authenticate.example.com
idp_provider_url: https://idp.example.com
idp_client_id: limen
idp_client_secret: not-used
databroker_storage_type: memory
`;

// Line numbers below are asserted: keep the layout.
const GOOD = `${HEADER}routes:
  - name: reports
    from: https://app.example.com
    to: http://127.0.0.1:9
    policy:
      - allow:
          and:
            - domain: {is: example.com}
            - groups: {has: admins}
      - deny:
          or:
            - time_of_day: {timezone: Europe/Berlin, after: "19:00", before: "07:00"}
  - name: never
    from: https://never.example.com
    to: http://127.0.0.1:9
    policy:
      allow:
        and:
          - email: {in: []}
  - name: public
    from: https://public.example.com
    to: http://127.0.0.1:9
    allow_public_unauthenticated_access: true
`;

const BAD = `${HEADER}routes:
  - name: typo
    from: https://app.example.com
    to: http://127.0.0.1:9
    policy:
      allow:
        or:
          - emial: {is: ada@example.com}
          - groups: {has: admins}
          - time_of_day: {timezone: Mars/Olympus, after: "09:00"}
  - name: shortcuts
    from: https://other.example.com
    to: http://127.0.0.1:9
    allowed_users: [ada@example.com]
    policy:
      alow:
        or:
          - accept: true
`;

const CASES = `cases:
  - name: admins from example.com may read
    url: https://app.example.com/reports
    method: GET
    ip: 10.1.2.3
    time: 2026-11-23T10:00:00Z
    identity:
      user: u-123
      email: ada@example.com
      groups: [admins]
      claims: {department: eng, org: {team: platform}}
    want: allow
  - name: closed in the evening, Berlin time
    url: https://app.example.com/reports
    time: 2026-11-23T19:30:00Z
    identity: {email: ada@example.com, groups: [admins]}
    want: deny
  - url: https://app.example.com/
    time: 2026-11-23T10:00:00Z
    want: login
  - url: https://public.example.com/anything
    want: allow
  - name: the time may carry an offset (06:30 in Berlin is still closed)
    url: https://app.example.com/reports
    time: 2026-11-23T06:30:00+01:00
    identity: {email: ada@example.com, groups: [admins]}
    want: deny
`;

const FAILING_CASES = `cases:
  - name: contractors may read
    url: https://app.example.com/reports
    time: 2026-11-23T10:00:00Z
    identity: {email: bob@contractor.example, groups: [admins]}
    want: allow
  - url: https://app.example.com/reports
    time: 2026-11-23T10:00:00Z
    identity: {email: ada@example.com, groups: [admins]}
    want: allow
  - url: https://nowhere.example.com/
    want: deny
`;

const MALFORMED_CASES = `cases:
  - url: https://app.example.com/
    wnat: allow
  - url: not-a-url
    time: tomorrow
    identity: {email: ada@example.com, grups: [admins]}
    want: permit
  - just a string
`;

let dir: string;
const file = (name: string): string => join(dir, name);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'limen-policy-cli-'));
  writeFileSync(file('good.yaml'), GOOD, { mode: 0o600 });
  writeFileSync(file('bad.yaml'), BAD, { mode: 0o600 });
  writeFileSync(file('cases.yaml'), CASES);
  writeFileSync(file('failing.yaml'), FAILING_CASES);
  writeFileSync(file('malformed.yaml'), MALFORMED_CASES);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The same CLI in this process, for flag handling. */
async function cliInProcess(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; },
    env: {}, stdinIsTTY: false, readStdin: async () => '',
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('limen policy check', () => {
  test('errors are printed with their file line and column, and every error of a route is found', async () => {
    const r = await runCli(['policy', 'check', '--config', file('bad.yaml')]);
    assert.equal(r.code, 1, r.stderr);
    const bad = file('bad.yaml');
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines, [
      `${bad}:16:13: error: routes[0].policy.allow.or[0]: unknown criterion "emial" (did you mean "email"?) (route "typo")`,
      `${bad}:18:27: error: routes[0].policy.allow.or[2].time_of_day.timezone: unknown time zone "Mars/Olympus" (expected an IANA name like "Europe/Berlin" or "UTC") (route "typo")`,
      `${bad}:23:5: error: routes[1].policy: unknown key "alow" (expected allow or deny; did you mean "allow"?) (route "shortcuts")`,
      'FAILED: 2 routes checked: 3 errors, 0 warnings',
    ]);
  });

  test('warnings for rules that can never match; they fail only with --strict', async () => {
    const [plain, strict] = await Promise.all([
      runCli(['policy', 'check', '--config', file('good.yaml')]),
      runCli(['policy', 'check', '--config', file('good.yaml'), '--strict']),
    ]);
    const good = file('good.yaml');
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trim().split('\n'), [
      `${good}:26:9: warning: routes[1].policy.allow.and: this allow rule can never match: "and" holds a criterion that never matches (such as reject or an empty "in" list) (route "never")`,
      `${good}:27:13: warning: routes[1].policy.allow.and[0]: "email" can never match (an empty list of values) (route "never")`,
      `${good}:24:5: warning: routes[1].policy: no allow rule can match: every request is denied (route "never")`,
      'ok: 3 routes checked: 0 errors, 3 warnings',
    ]);
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /^FAILED: 3 routes checked: 0 errors, 3 warnings \(--strict\)$/m);
  });

  test('--json lists errors and warnings with positions', async () => {
    const r = await cliInProcess(['policy', 'check', '--config', file('bad.yaml'), '--json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { ok: boolean; routes: number; errors: { path: string; line: number; column: number; route: string }[]; warnings: unknown[] };
    assert.equal(out.ok, false);
    assert.equal(out.routes, 2);
    assert.deepEqual(out.errors.map((e) => [e.path, e.line, e.column, e.route]), [
      ['routes[0].policy.allow.or[0]', 16, 13, 'typo'],
      ['routes[0].policy.allow.or[2].time_of_day.timezone', 18, 27, 'typo'],
      ['routes[1].policy', 23, 5, 'shortcuts'],
    ]);
  });

  test('a config that does not load is reported with its line, exit 1', async () => {
    writeFileSync(file('broken.yaml'), `${HEADER}routes:\n  - from: https://app.example.com\n    to: http://127.0.0.1:9\n    polcy: {allow: {or: [{accept: true}]}}\n`);
    const r = await cliInProcess(['policy', 'check', '--config', file('broken.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /routes\[0\]\.polcy: unknown key; did you mean "policy"\? \(.*broken\.yaml:12:5\)/);
  });
});

describe('limen policy explain', () => {
  const base = (): string[] => ['policy', 'explain', '--config', file('good.yaml'), '--url', 'https://app.example.com/reports'];

  test('allow, deny with reasons, login and no route, each with the deciding rule and every criterion', async () => {
    const [allow, deny, login, none] = await Promise.all([
      runCli([...base(), '--email', 'ada@example.com', '--groups', 'eng,admins', '--time', '2026-11-23T10:00:00Z']),
      runCli([...base(), '--email', 'ada@example.com', '--groups', 'admins', '--time', '2026-11-23T19:30:00Z']),
      runCli([...base(), '--no-identity', '--time', '2026-11-23T10:00:00Z']),
      runCli(['policy', 'explain', '--config', file('good.yaml'), '--url', 'https://nowhere.example.com/x', '--no-identity']),
    ]);

    assert.equal(allow.code, 0, allow.stderr);
    assert.match(allow.stdout, /^route: +reports \(routes\[0\], https:\/\/app\.example\.com\)$/m);
    assert.match(allow.stdout, /^decision: +allow: the request is proxied to the upstream$/m);
    assert.match(allow.stdout, /^rule: +routes\[0\]\.policy\[0\]\.allow\.and \(line 15, column 11\)$/m);
    assert.match(allow.stdout, /^ {2}domain-ok +Your email domain is allowed on this route\.$/m);
    assert.match(allow.stdout, /^ {2}16:15 +domain +match +domain-ok +routes\[0\]\.policy\[0\]\.allow\.and\[0\]$/m);
    assert.match(allow.stdout, /^ {2}17:15 +groups +match +groups-ok +routes\[0\]\.policy\[0\]\.allow\.and\[1\]$/m);
    assert.match(allow.stdout, /^ {2}20:15 +time_of_day +no match +time-of-day-unauthorized +routes\[0\]\.policy\[1\]\.deny\.or\[0\]$/m);

    assert.equal(deny.code, 0, deny.stderr);
    assert.match(deny.stdout, /^decision: +deny: 403 Forbidden$/m);
    assert.match(deny.stdout, /^rule: +routes\[0\]\.policy\[1\]\.deny\.or /m);
    assert.match(deny.stdout, /^ {2}time-of-day-ok +This route is closed at this time of day\.$/m);

    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /^identity: +\(none: no session or token\)$/m);
    assert.match(login.stdout, /^decision: +login: a browser is sent to sign in \(302\); other clients get 401$/m);
    assert.match(login.stdout, /^ {2}user-unauthenticated +You need to sign in to use this route\.$/m);
    assert.match(login.stdout, /domain +unknown +user-unauthenticated/);

    assert.equal(none.code, 1);
    assert.match(none.stdout, /^route: +none matches host "nowhere\.example\.com" and path "\/x"$/m);
    assert.match(none.stdout, /^decision: +404 Not Found \(route-not-found\)$/m);
  });

  test('default deny names every unmet requirement; --json is machine-readable', async () => {
    const r = await cliInProcess([...base(), '--email', 'bob@contractor.example', '--groups', 'admins', '--time', '2026-11-23T10:00:00Z', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      result: string; rule: string | null; route: { name: string; index: number };
      reasons: { reason: string; text: string }[];
      criteria: { path: string; criterion: string; matched: boolean; reason: string }[];
      request: { time: string; ip: string; method: string; identity: { email: string; groups: string[] } };
    };
    assert.equal(out.result, 'deny');
    assert.equal(out.rule, null);
    assert.deepEqual(out.route, { index: 0, name: 'reports', from: 'https://app.example.com' });
    assert.deepEqual(out.reasons.map((x) => x.reason), ['domain-unauthorized']);
    assert.deepEqual(out.criteria.map((c) => [c.criterion, c.matched, c.reason]), [
      ['domain', false, 'domain-unauthorized'],
      ['groups', true, 'groups-ok'],
      ['time_of_day', false, 'time-of-day-unauthorized'],
    ]);
    assert.deepEqual(out.request, {
      method: 'GET', url: 'https://app.example.com/reports', ip: '127.0.0.1', time: '2026-11-23T10:00:00.000Z',
      identity: { user: null, email: 'bob@contractor.example', groups: ['admins'], claims: {} },
    });
  });

  test('claims nest on dots and read JSON values; --ip and --method reach the policy', async () => {
    writeFileSync(file('claims.yaml'), `${HEADER}routes:
  - from: https://app.example.com
    to: http://127.0.0.1:9
    policy:
      allow:
        and:
          - claim/org.team: platform
          - claim/admin: {is: "true"}
          - source_ip: 10.0.0.0/8
          - http_method: {in: [POST]}
`);
    const args = ['policy', 'explain', '--config', file('claims.yaml'), '--url', 'https://app.example.com/', '--json'];
    const yes = await cliInProcess([...args, '--claim', 'org.team=platform', '--claim', 'admin=true', '--ip', '10.1.2.3', '--method', 'post']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal((JSON.parse(yes.stdout) as { result: string }).result, 'allow');
    const no = await cliInProcess([...args, '--claim', 'org.team=sales', '--claim', 'admin=true', '--ip', '192.168.0.1', '--method', 'GET']);
    const out = JSON.parse(no.stdout) as { result: string; criteria: { criterion: string; reason: string }[] };
    assert.equal(out.result, 'deny');
    assert.deepEqual(out.criteria.map((c) => c.reason), ['claim-unauthorized', 'claim-ok', 'source-ip-unauthorized', 'http-method-unauthorized']);
  });
});

describe('limen policy test', () => {
  test('a passing table exits 0 and prints "N passed, 0 failed"', async () => {
    const r = await runCli(['policy', 'test', '--config', file('good.yaml'), file('cases.yaml')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '5 passed, 0 failed\n');
  });

  test('a failing case exits 1 and is shown with its reasons', async () => {
    const r = await runCli(['policy', 'test', '--config', file('good.yaml'), file('failing.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL cases\[0\] "contractors may read": GET https:\/\/app\.example\.com\/reports: want allow, got deny$/m);
    assert.match(r.stdout, /^ +rule: +\(none: no allow rule matched, denied by default\)$/m);
    assert.match(r.stdout, /^ +reasons: domain-unauthorized: Your email domain is not allowed on this route\.$/m);
    assert.match(r.stdout, /^ +not met: domain \(domain-unauthorized\) at routes\[0\]\.policy\[0\]\.allow\.and\[0\]/m);
    assert.doesNotMatch(r.stdout, /cases\[1\]/, 'a passing case is not listed');
    assert.match(r.stdout, /^FAIL cases\[2\]: GET https:\/\/nowhere\.example\.com\/: want deny, got no-route$/m);
    assert.match(r.stdout, /\n1 passed, 2 failed\n$/);
  });

  test('a malformed case file names each case index and key with its line, and runs nothing', async () => {
    const r = await runCli(['policy', 'test', '--config', file('good.yaml'), file('malformed.yaml')]);
    assert.equal(r.code, 1);
    const m = file('malformed.yaml');
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `${m}:3:5: cases[0].wnat: unknown key; did you mean "want"?`,
      `${m}:2:5: cases[0]: missing "want" (allow, deny or login)`,
      `${m}:4:10: cases[1].url: expected an absolute http(s) URL, got "not-a-url"`,
      `${m}:5:11: cases[1].time: expected an ISO-8601 date-time with a zone, like 2026-11-23T10:00:00Z, got "tomorrow"`,
      `${m}:6:40: cases[1].identity.grups: unknown key; did you mean "groups"?`,
      `${m}:7:11: cases[1].want: expected allow, deny or login, got "permit"`,
      `${m}:8:5: cases[2]: expected a mapping with at least "url" and "want", got "just a string"`,
      `${m}: 7 problems in the case file; no case was run`,
    ]);
    assert.equal(r.stdout, '');
  });

  test('bad case files, one problem each', async () => {
    const table: { name: string; text: string; want: RegExp }[] = [
      { name: 'not a mapping', text: '- url: x\n', want: /^.*:1:1: expected a mapping with a "cases" list, got a list$/m },
      { name: 'no cases', text: 'cases: []\n', want: /cases: expected a list of cases, got an empty list/ },
      { name: 'unknown top key', text: 'case:\n  - url: https://a.example.com/\n    want: allow\n', want: /:1:1: case: unknown key; did you mean "cases"\?/ },
      { name: 'bad method', text: 'cases:\n  - {url: "https://app.example.com/", method: "G T", want: allow}\n', want: /cases\[0\]\.method: expected an HTTP method/ },
      { name: 'bad ip', text: 'cases:\n  - {url: "https://app.example.com/", ip: 10.1.2, want: allow}\n', want: /cases\[0\]\.ip: expected an IPv4 or IPv6 address, got "10\.1\.2"/ },
      { name: 'time without zone', text: 'cases:\n  - {url: "https://app.example.com/", time: "2026-11-23T10:00:00", want: allow}\n', want: /cases\[0\]\.time: expected an ISO-8601 date-time with a zone/ },
      { name: 'identity null', text: 'cases:\n  - url: https://app.example.com/\n    identity:\n    want: allow\n', want: /cases\[0\]\.identity: expected a mapping of user, email, groups, claims/ },
      { name: 'groups not a list', text: 'cases:\n  - {url: "https://app.example.com/", identity: {groups: admins}, want: allow}\n', want: /cases\[0\]\.identity\.groups: expected a list of group names/ },
      { name: 'claims not a mapping', text: 'cases:\n  - {url: "https://app.example.com/", identity: {claims: [a]}, want: allow}\n', want: /cases\[0\]\.identity\.claims: expected a mapping/ },
      { name: 'no url', text: 'cases:\n  - {want: allow}\n', want: /cases\[0\]: missing "url"/ },
      { name: 'bad client certificate', text: 'cases:\n  - {url: "https://app.example.com/", client_certificate: yes, want: allow}\n', want: /cases\[0\]\.client_certificate: expected none, invalid, valid, got "yes"/ },
      { name: 'namespace without user', text: 'cases:\n  - {url: "https://app.example.com/", identity: {namespace: eng}, want: allow}\n', want: /cases\[0\]\.identity\.namespace: a service account \(namespace\) needs its user id/ },
      { name: 'yaml syntax', text: 'cases:\n  - url: [unclosed\n', want: /:\d+:\d+: YAML syntax error/ },
    ];
    for (const { name, text, want } of table) {
      writeFileSync(file('one.yaml'), text);
      const r = await cliInProcess(['policy', 'test', '--config', file('good.yaml'), file('one.yaml')]);
      assert.equal(r.code, 1, name);
      assert.match(r.stderr, want, name);
      assert.equal(r.stdout, '', `${name}: no case was run`);
    }
  });

  test('--json gives each case with what was wanted and what came', async () => {
    const r = await cliInProcess(['policy', 'test', '--config', file('good.yaml'), file('failing.yaml'), '--json']);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { passed: number; failed: number; cases: { index: number; ok: boolean; want: string; got: string; reasons: string[] }[] };
    assert.equal(out.passed, 1);
    assert.equal(out.failed, 2);
    assert.deepEqual(out.cases.map((c) => [c.index, c.ok, c.want, c.got, c.reasons]), [
      [0, false, 'allow', 'deny', ['domain-unauthorized']],
      [1, true, 'allow', 'allow', ['domain-ok', 'groups-ok']],
      [2, false, 'deny', 'no-route', ['route-not-found']],
    ]);
  });
});

describe('limen policy explain|test: service accounts, client certificates and preflights, decided as the server decides them', () => {
  // downstream_mtls needs TLS and a CA file (config check refuses it otherwise).
  const testdata = (name: string): string => fileURLToPath(new URL(`../src/config/testdata/${name}`, import.meta.url));
  const TLS_HEADER = HEADER.replace('insecure_server: true\n', `certificate_file: ${testdata('tls.pem')}\ncertificate_key_file: ${testdata('tls.key')}\n`);
  const CONFIG = `${TLS_HEADER}namespaces:
  - name: eng
  - name: eng-ci
    parent: eng
downstream_mtls: {enforcement: policy_with_default_deny, ca_file: ${testdata('tls.pem')}}
routes:
  - name: eng-app
    from: https://eng.example.com
    to: http://127.0.0.1:9
    namespace: eng
    allow_any_authenticated_user: true
  - name: open
    from: https://open.example.com
    to: http://127.0.0.1:9
    allow_public_unauthenticated_access: true
  - name: cors
    from: https://cors.example.com
    to: http://127.0.0.1:9
    policy: {allow: {or: [{cors_preflight: true}]}}
`;
  before(() => writeFileSync(file('scoped.yaml'), CONFIG, { mode: 0o600 }));
  const explain = async (url: string, ...flags: string[]) => {
    const r = await cliInProcess(['policy', 'explain', '--config', file('scoped.yaml'), '--url', url, '--json', ...flags]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { result: string; rule: string | null; reasons: { reason: string }[]; request: Record<string, unknown> };
  };

  test('a service account works in its namespace and below, and is refused elsewhere with namespace-unauthorized', async () => {
    const table: { ns: string; cert: string; want: [string, string | null, string[]] }[] = [
      { ns: 'eng', cert: 'valid', want: ['allow', 'routes[0].shortcuts.allow.or', ['user-ok']] },
      { ns: 'global', cert: 'valid', want: ['allow', 'routes[0].shortcuts.allow.or', ['user-ok']] },
      { ns: 'eng-ci', cert: 'valid', want: ['deny', null, ['namespace-unauthorized']] },
      { ns: 'undeclared', cert: 'valid', want: ['deny', null, ['namespace-unauthorized']] },
      // Both refusals: the credential's own reason is what the client is told.
      { ns: 'eng-ci', cert: 'none', want: ['deny', null, ['namespace-unauthorized']] },
    ];
    for (const { ns, cert, want } of table) {
      const out = await explain('https://eng.example.com/', '--user', 'bot', '--namespace', ns, '--client-cert', cert);
      assert.deepEqual([out.result, out.rule, out.reasons.map((r) => r.reason)], want, `${ns} ${cert}`);
      assert.deepEqual((out.request.identity as { namespace: string }).namespace, ns);
      assert.equal(out.request.client_certificate, cert);
    }
    const text = await cliInProcess(['policy', 'explain', '--config', file('scoped.yaml'), '--url', 'https://eng.example.com/', '--user', 'bot', '--namespace', 'eng-ci', '--client-cert', 'valid']);
    assert.match(text.stdout, /^identity: +user bot; no groups; service account of namespace eng-ci$/m);
    assert.match(text.stdout, /^decision: +deny: 403 Forbidden$/m);
    assert.match(text.stdout, /^rule: +\(none: the credential is not valid on this route, whatever the policy says\)$/m);
  });

  test('downstream_mtls default-deny: no certificate or an invalid one is refused whatever the route allows', async () => {
    for (const [flags, want] of [[[], 'deny'], [['--client-cert', 'none'], 'deny'], [['--client-cert', 'invalid'], 'deny'], [['--client-cert', 'valid'], 'allow']] as const) {
      const out = await explain('https://open.example.com/', '--no-identity', ...flags);
      assert.equal(out.result, want, flags.join(' '));
      if (want === 'deny') assert.deepEqual([out.rule, out.reasons.map((r) => r.reason)], ['downstream_mtls', ['invalid-client-certificate']]);
    }
    const text = await cliInProcess(['policy', 'explain', '--config', file('scoped.yaml'), '--url', 'https://open.example.com/', '--no-identity']);
    const line = CONFIG.split('\n').findIndex((l) => l.startsWith('downstream_mtls:')) + 1;
    assert.match(text.stdout, new RegExp(`^rule: +downstream_mtls \\(line ${line}, column 1\\)$`, 'm'));
  });

  test('--cors-preflight is an OPTIONS request with Origin, as the server sees one', async () => {
    const yes = await explain('https://cors.example.com/', '--no-identity', '--client-cert', 'valid', '--cors-preflight');
    assert.equal(yes.result, 'allow');
    assert.equal(yes.request.method, 'OPTIONS');
    const plain = await explain('https://cors.example.com/', '--no-identity', '--client-cert', 'valid', '--method', 'OPTIONS');
    assert.equal(plain.result, 'deny', 'OPTIONS without the preflight headers is not a preflight');
  });

  test('the case file takes identity.namespace and client_certificate', async () => {
    writeFileSync(file('scoped-cases.yaml'), `cases:
  - url: https://eng.example.com/
    client_certificate: valid
    identity: {user: bot, namespace: eng}
    want: allow
  - url: https://eng.example.com/
    client_certificate: valid
    identity: {user: bot, namespace: eng-ci}
    want: deny
  - url: https://open.example.com/
    want: deny
  - url: https://open.example.com/
    client_certificate: valid
    want: allow
  - name: wrong on purpose
    url: https://eng.example.com/
    client_certificate: valid
    identity: {user: bot, namespace: eng-ci}
    want: allow
`);
    const r = await cliInProcess(['policy', 'test', '--config', file('scoped.yaml'), file('scoped-cases.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL cases\[4\] "wrong on purpose": GET https:\/\/eng\.example\.com\/: want allow, got deny$/m);
    assert.match(r.stdout, /^ +rule: +\(none: the credential is not valid on this route\)$/m);
    assert.match(r.stdout, /^ +reasons: namespace-unauthorized: /m);
    assert.match(r.stdout, /\n4 passed, 1 failed\n$/);
  });

  test('Limen\'s own paths are endpoints, not routes, on route hosts and the authenticate host alike', async () => {
    const table: { url: string; endpoint: string }[] = [
      { url: 'https://eng.example.com/.pomerium/', endpoint: 'route-host' },
      { url: 'https://eng.example.com/.pomerium/api/v1/login', endpoint: 'route-host' },
      { url: 'https://eng.example.com/ping', endpoint: 'health' },
      { url: 'https://anything.example.com/.well-known/pomerium/jwks.json', endpoint: 'jwks' },
      { url: 'https://authenticate.example.com/.pomerium/sign_in', endpoint: 'authenticate' },
      { url: 'https://authenticate.example.com/.pomerium/api/v1/anything', endpoint: 'authenticate' },
    ];
    for (const { url, endpoint } of table) {
      const r = await cliInProcess(['policy', 'explain', '--config', file('scoped.yaml'), '--url', url, '--no-identity', '--json']);
      assert.equal(r.code, 0, url);
      const out = JSON.parse(r.stdout) as { limen_endpoint: boolean; endpoint: string; result: null };
      assert.deepEqual([out.limen_endpoint, out.endpoint, out.result], [true, endpoint, null], url);
    }
  });
});

describe('policy and data commands: help and usage errors', () => {
  test('every command has --help (exit 0) and says how to use it on a usage error (exit 2)', async () => {
    for (const cmd of [['policy', 'check'], ['policy', 'explain'], ['policy', 'test'], ['data', 'load']]) {
      const help = await cliInProcess([...cmd, '--help']);
      assert.equal(help.code, 0, cmd.join(' '));
      assert.match(help.stdout, new RegExp(`^Usage: limen ${cmd.join(' ')} `), cmd.join(' '));
    }
    const spawned = await runCli(['policy', 'explain', '--help']);
    assert.equal(spawned.code, 0);
    assert.match(spawned.stdout, /--no-identity/);
  });

  test('bad flags exit 2 with the reason and the usage', async () => {
    const g = file('good.yaml');
    const url = 'https://app.example.com/';
    const table: { argv: string[]; want: RegExp }[] = [
      { argv: ['policy', 'check'], want: /--config FILE is required/ },
      { argv: ['policy', 'check', '--config', g, 'extra'], want: /unexpected argument "extra"/ },
      { argv: ['policy', 'check', '--config', g, '--bogus'], want: /Unknown option '--bogus'/ },
      { argv: ['policy', 'explain', '--config', g], want: /--url URL is required/ },
      { argv: ['policy', 'explain', '--url', url, '--no-identity'], want: /--config FILE is required/ },
      { argv: ['policy', 'explain', '--config', g, '--url', 'ftp://x/', '--no-identity'], want: /--url: expected an absolute http\(s\) URL/ },
      { argv: ['policy', 'explain', '--config', g, '--url', 'app.example.com', '--no-identity'], want: /--url: expected an absolute http\(s\) URL/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url], want: /say who is asking/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--email', 'a@b.c'], want: /--no-identity cannot be combined/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--time', '10:00'], want: /--time: expected an ISO-8601 date-time/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--time', '2026-13-45T99:00:00Z'], want: /--time: expected an ISO-8601 date-time/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--time', '2026-02-30T10:00:00Z'], want: /--time: expected an ISO-8601 date-time/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--time', '2026-11-23T10:00:00'], want: /--time: expected an ISO-8601 date-time with a zone/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--ip', '300.1.1.1'], want: /--ip: expected an IPv4 or IPv6 address/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--method', 'GE T'], want: /--method: expected an HTTP method/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--claim', 'novalue'], want: /--claim: expected NAME=VALUE/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--claim', '=x'], want: /--claim: expected NAME=VALUE/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--claim', '__proto__.x=1'], want: /--claim: claim name "__proto__\.x" is not usable/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--claim', 'a=1', '--claim', 'a.b=2'], want: /--claim: claim "a\.b": "a" already holds a value/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--client-cert', 'maybe'], want: /--client-cert: expected none, invalid, valid, got "maybe"/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--namespace', 'eng'], want: /--namespace NS describes a service account: give its user id with --user/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--user', 'bot', '--namespace', ''], want: /--namespace NS describes a service account/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--namespace', 'eng'], want: /--no-identity cannot be combined/ },
      { argv: ['policy', 'explain', '--config', g, '--url', url, '--no-identity', '--cors-preflight', '--method', 'GET'], want: /--cors-preflight: a CORS preflight is an OPTIONS request/ },
      { argv: ['policy', 'test', '--config', g], want: /expected exactly one case file/ },
      { argv: ['policy', 'test', '--config', g, 'a.yaml', 'b.yaml'], want: /expected exactly one case file/ },
      { argv: ['policy', 'test', file('cases.yaml')], want: /--config FILE is required/ },
      { argv: ['data', 'load', '--config', g, 'x.json'], want: /--type T is required/ },
      { argv: ['data', 'load', '--config', g, '--type', 'devices'], want: /expected exactly one data file/ },
      { argv: ['data', 'load', '--type', 'devices', 'x.json'], want: /--config FILE is required/ },
    ];
    for (const bad of ['', ' spaces', '../x', 'a'.repeat(200), '-leading']) {
      table.push({ argv: ['data', 'load', '--config', g, `--type=${bad}`, 'x.json'], want: /--type: ".*" must be letters, digits/ });
    }
    for (const { argv, want } of table) {
      const r = await cliInProcess(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, argv.join(' '));
      assert.match(r.stderr, /; see 'limen [a-z -]+ --help'\n$/, `${argv.join(' ')} points at the help`);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${argv.join(' ')}: a usage error is one line`);
    }
  });

  test('a missing config or case file is a failure (exit 1) naming the file, not a crash', async () => {
    const missing = file('nope.yaml');
    for (const argv of [
      ['policy', 'check', '--config', missing],
      ['policy', 'explain', '--config', missing, '--url', 'https://app.example.com/', '--no-identity'],
      ['policy', 'test', '--config', file('good.yaml'), missing],
    ]) {
      const r = await cliInProcess(argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stdout + r.stderr, /nope\.yaml: cannot read the (config|case) file \(ENOENT\)/, argv.join(' '));
    }
  });
});
