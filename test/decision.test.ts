/**
 * One decision core: the same requests through the running server (real
 * IdP, upstream and Limen, sessions signed in through the IdP, a service
 * account issued by the CLI, records in the server's SQLite file) and
 * through `limen policy explain` and `limen policy test` on the same config
 * and store must come out the same: the same decision, route, rule and
 * reasons. The server's side is read from its decision log (the audit
 * event of the request id) and checked against its response.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { CookieJar, closeHttpAgents, request, scriptedLogin, type TestResponse } from './support/index.js';
import { runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';
import { COOKIE_SECRET, freePort, SHARED_SECRET } from './stack.js';
import { main } from '../src/cli/main.js';
import { parseConfig } from '../src/config/index.js';
import { loadRecords } from '../src/records/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { startDemoUpstream } from '../src/devidp/index.js';
import { MemoryStore, type Store } from '../src/store/index.js';
import { silentLogger } from '../src/log/index.js';
import { makePki, type TestPki } from './support/pki.js';

const JSON_ACCEPT = { accept: 'application/json' };

/** A decision as both sides report it. */
interface Outcome {
  /** allow | deny | login, or no-route / limen-endpoint when no route policy decided. */
  readonly result: string;
  readonly route: string | null;
  readonly rule: string | null;
  readonly reasons: readonly string[];
}

/** The server's decision for one response: its audit event, or what the response says when no policy decided. */
async function serverOutcome(limen: RunningLimen, store: Store, res: { status: number; requestId: string | undefined; body: string }, since: number): Promise<Outcome & { time?: number }> {
  await limen.services.audit.flush();
  const events = await store.queryAudit({ kind: 'authorize', since, limit: 100_000 });
  const ev = res.requestId === undefined ? undefined : events.find((e) => e.requestId === res.requestId);
  if (ev) {
    const reasons = ev.details.reasons as string[];
    const want: Record<string, number> = { allow: 200, deny: 403, login: 401 };
    assert.equal(res.status, want[ev.decision!], `the response agrees with the logged decision ${ev.decision}: ${res.body.slice(0, 200)}`);
    return { result: ev.decision!, route: ev.route ?? null, rule: (ev.details.rule as string | undefined) ?? null, reasons, time: ev.time };
  }
  if (res.status === 404 && (JSON.parse(res.body) as { reasons?: string[] }).reasons?.includes('route-not-found')) {
    return { result: 'no-route', route: null, rule: null, reasons: ['route-not-found'] };
  }
  assert.ok(!/"x-pomerium-jwt-assertion"|"headers"/.test(res.body), 'a Limen endpoint never reaches the upstream');
  return { result: 'limen-endpoint', route: null, rule: null, reasons: [] };
}

/** `limen policy explain --json` read as an Outcome. */
function explainOutcome(stdout: string): Outcome {
  const out = JSON.parse(stdout) as { result: string | null; route: { name: string } | null; rule?: string | null; reasons: (string | { reason: string })[]; limen_endpoint?: boolean; status?: number };
  const result = out.result ?? (out.limen_endpoint ? 'limen-endpoint' : out.status === 404 ? 'no-route' : 'unknown');
  return { result, route: out.route?.name ?? null, rule: out.rule ?? null, reasons: out.reasons.map((r) => (typeof r === 'string' ? r : r.reason)) };
}

/**
 * The `limen` command in this process (the same `main` a shell runs):
 * a child per case would be slow on a loaded machine; one case file run by
 * a child process below covers the command as spawned.
 */
async function cliInProcess(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; },
    env: {}, stdinIsTTY: false, readStdin: async () => '',
  });
  return { code, stdout, stderr };
}

function fromResponse(res: TestResponse): { status: number; requestId: string | undefined; body: string } {
  return { status: res.status, requestId: res.header('x-request-id'), body: res.text() };
}

interface Case {
  readonly name: string;
  /** Route host name (under .localhost) and path. */
  readonly host: string;
  readonly path: string;
  /** Who asks: a signed-in user, the namespaced service account, or nobody. */
  readonly as: 'ada' | 'bob' | 'bot' | 'nobody';
  readonly want: Omit<Outcome, 'rule'> & { readonly rule?: string | null };
}

describe('the server and limen policy explain|test decide alike', () => {
  let st: SharedStoreStack;
  let configFile: string;
  const jars: Record<'ada' | 'bob', CookieJar> = { ada: new CookieJar(), bob: new CookieJar() };
  const identityFlags: Record<string, string[]> = {};
  let botToken: string;

  const routes = [
    { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { and: [{ domain: { is: 'example.com' } }] } } },
    {
      name: 'devices', from: 'http://devices.localhost:PORT', to: 'UPSTREAM',
      policy: { allow: { and: [{ authenticated_user: true }, { record: { type: 'devices', field: 'scan.critical', '<': 1 } }] } },
    },
    { name: 'sales', from: 'http://sales.localhost:PORT', to: 'UPSTREAM', namespace: 'sales', allow_any_authenticated_user: true },
    { name: 'docs', from: 'http://docs.localhost:PORT', to: 'UPSTREAM', prefix: '/docs/', allow_public_unauthenticated_access: true },
    // Asked anonymously by the login case alone: the decision log keeps the first of
    // repeated anonymous refusals and counts the rest (src/audit/bounds.ts).
    { name: 'members', from: 'http://members.localhost:PORT', to: 'UPSTREAM', policy: { allow: { and: [{ domain: { is: 'example.com' } }] } } },
    { name: 'live', from: 'http://live.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, allow_websockets: true },
  ];

  before(async () => {
    st = await startSharedStoreStack({
      routes,
      config: { namespaces: [{ name: 'eng' }, { name: 'sales' }] },
      users: { 'ada@example.com': { sub: 'u-ada', groups: ['eng'] }, 'bob@other.example': { sub: 'u-bob' } },
    });
    // The CLI reads the same settings, routes and SQLite file as the server.
    configFile = join(dirname(st.configPath), 'decision.yaml');
    const port = String(st.s.port);
    writeFileSync(configFile, `${readFileSync(st.configPath, 'utf8')}${stringify({
      routes: routes.map((r) => ({ ...r, from: r.from.replace('PORT', port), to: st.s.upstreamUrl })),
    })}`, { mode: 0o600 });

    await loadRecords(st.store, 'devices', [{ id: 'u-ada', scan: { critical: 0 } }, { id: 'u-bob', scan: { critical: 3 } }]);
    for (const who of ['ada', 'bob'] as const) {
      const email = who === 'ada' ? 'ada@example.com' : 'bob@other.example';
      for (const host of ['staff', 'devices']) await scriptedLogin(`${st.s.origin(host)}/`, email, { jar: jars[who] });
      // The identity exactly as the server sees it, for the CLI.
      const user = (await request(`${st.s.origin('staff')}/.pomerium/user`, { jar: jars[who], headers: JSON_ACCEPT })).json<{ sub: string; email: string; groups: string[] }>();
      assert.equal(user.email, email);
      identityFlags[who] = ['--user', user.sub, '--email', user.email, ...(user.groups.length > 0 ? ['--groups', user.groups.join(',')] : [])];
    }
    const sa = await runCli(['service-account', 'create', '--config', st.configPath, '--user', 'bot-eng', '--namespace', 'eng', '--json']);
    assert.equal(sa.code, 0, sa.stderr);
    botToken = (JSON.parse(sa.stdout) as { token: string }).token;
    identityFlags.bot = ['--user', 'bot-eng', '--namespace', 'eng'];
    identityFlags.nobody = ['--no-identity'];
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  const cases: Case[] = [
    { name: 'allow', host: 'staff', path: '/reports', as: 'ada', want: { result: 'allow', route: 'staff', rule: 'routes[0].policy.allow.and', reasons: ['domain-ok'] } },
    { name: 'deny', host: 'staff', path: '/reports', as: 'bob', want: { result: 'deny', route: 'staff', rule: null, reasons: ['domain-unauthorized'] } },
    { name: 'login', host: 'members', path: '/', as: 'nobody', want: { result: 'login', route: 'members', reasons: ['user-unauthenticated'] } },
    { name: 'record criterion, data present', host: 'devices', path: '/', as: 'ada', want: { result: 'allow', route: 'devices', reasons: ['user-ok', 'record-ok'] } },
    { name: 'record criterion, data refuses', host: 'devices', path: '/', as: 'bob', want: { result: 'deny', route: 'devices', rule: null, reasons: ['record-unauthorized'] } },
    { name: 'service account outside its namespace', host: 'sales', path: '/', as: 'bot', want: { result: 'deny', route: 'sales', rule: null, reasons: ['namespace-unauthorized'] } },
    { name: 'Limen\'s /.pomerium/ on a route host', host: 'staff', path: '/.pomerium/', as: 'ada', want: { result: 'limen-endpoint', route: null, reasons: [] } },
    { name: 'Limen\'s /.pomerium/ on a route host whose routes do not cover it', host: 'docs', path: '/.pomerium/', as: 'nobody', want: { result: 'limen-endpoint', route: null, reasons: [] } },
    { name: '/ping on a route host', host: 'staff', path: '/ping', as: 'nobody', want: { result: 'limen-endpoint', route: null, reasons: [] } },
    { name: 'an admin API path no endpoint serves, on the authenticate host', host: 'authenticate', path: '/.pomerium/api/v1/nothing', as: 'nobody', want: { result: 'limen-endpoint', route: null, reasons: [] } },
    { name: 'public path', host: 'docs', path: '/docs/intro', as: 'nobody', want: { result: 'allow', route: 'docs', reasons: ['accept'] } },
    { name: 'unknown path', host: 'docs', path: '/other', as: 'nobody', want: { result: 'no-route', route: null, reasons: ['route-not-found'] } },
    { name: 'unknown host', host: 'nowhere', path: '/', as: 'nobody', want: { result: 'no-route', route: null, reasons: ['route-not-found'] } },
  ];

  test('each case: the same decision, route, rule and reasons from the server, policy explain and policy test', async () => {
    const since = Date.now() - 1000;
    const served: (Outcome & { time?: number })[] = [];
    for (const c of cases) {
      const headers: Record<string, string> = { ...JSON_ACCEPT, ...(c.as === 'bot' ? { authorization: `Bearer Pomerium-${botToken}` } : {}) };
      const res = await request(`${st.s.origin(c.host)}${c.path}`, { headers, ...(c.as === 'ada' || c.as === 'bob' ? { jar: jars[c.as] } : {}) });
      served.push(await serverOutcome(st.s.limen, st.store, fromResponse(res), since));
    }
    // Limen's own paths are answered by Limen even where no endpoint serves them.
    const unknownAdmin = await request(`${st.s.authOrigin}/.pomerium/api/v1/nothing`, { headers: JSON_ACCEPT });
    assert.deepEqual([unknownAdmin.status, unknownAdmin.json<{ reasons: string[] }>().reasons], [404, ['endpoint-not-found']]);

    // Each case explained at the instant the server decided it.
    const explained = await Promise.all(cases.map((c, i) => {
      const time = served[i]!.time;
      return cliInProcess([
        'policy', 'explain', '--config', configFile, '--url', `${st.s.origin(c.host)}${c.path}`, '--json',
        ...identityFlags[c.as]!, ...(time === undefined ? [] : ['--time', new Date(time).toISOString()]),
      ]);
    }));
    cases.forEach((c, i) => {
      const r = explained[i]!;
      assert.equal(r.code, c.want.result === 'no-route' ? 1 : 0, `${c.name}: ${r.stderr}`);
      const cli = explainOutcome(r.stdout);
      const { time: _t, ...server } = served[i]!;
      assert.deepEqual(cli, server, `${c.name}: policy explain and the server disagree`);
      const { rule, ...want } = c.want;
      assert.deepEqual({ ...server, rule: undefined }, { ...want, rule: undefined }, `${c.name}: unexpected decision`);
      if (rule !== undefined) assert.equal(server.rule, rule, `${c.name}: rule`);
    });

    // limen policy test, spawned as in an operator's CI, on the whole table: each case
    // wants what the server did. A case no route policy decides (no route, Limen's own
    // endpoint) fails by design, with what it got.
    const identities: Record<string, unknown> = {
      ada: identityFlagsToCase(identityFlags.ada!), bob: identityFlagsToCase(identityFlags.bob!), bot: { user: 'bot-eng', namespace: 'eng' },
    };
    const decided = (s: Outcome): boolean => ['allow', 'deny', 'login'].includes(s.result);
    const caseFile = join(dirname(configFile), 'decision-cases.yaml');
    writeFileSync(caseFile, stringify({
      cases: cases.map((c, i) => ({
        name: c.name, url: `${st.s.origin(c.host)}${c.path}`,
        ...(served[i]!.time === undefined ? {} : { time: new Date(served[i]!.time!).toISOString() }),
        ...(c.as === 'nobody' ? {} : { identity: identities[c.as] }),
        want: decided(served[i]!) ? served[i]!.result : 'allow',
      })),
    }));
    const t = await runCli(['policy', 'test', '--config', configFile, caseFile, '--json']);
    assert.equal(t.code, 1, t.stdout + t.stderr);
    const out = JSON.parse(t.stdout) as { cases: { ok: boolean; got: string; route: string | null; rule: string | null; reasons: string[] }[] };
    assert.deepEqual(
      out.cases.map((x) => ({ ok: x.ok, result: x.got, route: x.route, rule: x.rule, reasons: x.reasons })),
      served.map((s) => ({ ok: decided(s), result: s.result, route: s.route, rule: s.rule, reasons: s.reasons })),
    );
  });

  test('a websocket upgrade is classified as any request: Limen\'s own paths are never tunnelled to the upstream', async () => {
    const own = await upgradeStatus(st.s.port, 'live.localhost', '/.pomerium/');
    assert.equal(own.status, 400, own.body);
    assert.deepEqual((JSON.parse(own.body) as { reasons: string[] }).reasons, ['websockets-not-allowed']);
    const tunnelled = await upgradeStatus(st.s.port, 'live.localhost', '/ws');
    assert.equal(tunnelled.status, 101, 'the route itself still takes websockets');
    const r = await cliInProcess(['policy', 'explain', '--config', configFile, '--url', `${st.s.origin('live')}/.pomerium/`, '--no-identity', '--json']);
    assert.equal((JSON.parse(r.stdout) as { endpoint: string }).endpoint, 'route-host');
  });
});

/** A websocket opening handshake; resolves with the status Limen answered (101 when tunnelled). */
function upgradeStatus(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, path, agent: false,
      headers: {
        host: `${host}:${port}`, connection: 'Upgrade', upgrade: 'websocket', ...JSON_ACCEPT,
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13',
      },
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, body: '' }); });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `--user u --email e --groups a,b` as a case file's identity. */
function identityFlagsToCase(flags: readonly string[]): Record<string, unknown> {
  const get = (f: string) => { const i = flags.indexOf(f); return i < 0 ? undefined : flags[i + 1]; };
  const groups = get('--groups');
  return { user: get('--user'), email: get('--email'), ...(groups ? { groups: groups.split(',') } : {}) };
}

function httpsGet(port: number, host: string, ca: string, client?: { cert: string; key: string }): Promise<{ status: number; requestId: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', servername: host, ca, agent: false,
      headers: { host: `${host}:${port}`, ...JSON_ACCEPT },
      ...(client ?? {}),
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: res.headers['x-request-id'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the server and limen policy explain decide alike under downstream mTLS default-deny', () => {
  let dir: string;
  let pki: TestPki;
  let limen: RunningLimen;
  let store: MemoryStore;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let port: number;
  let configFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-decision-mtls-'));
    pki = makePki(dir, { serverName: 'mtls.localhost', clientSan: 'email:alice@example.com' });
    upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    port = await freePort();
    const raw = {
      address: `127.0.0.1:${port}`,
      certificate_file: join(dir, 'server.pem'),
      certificate_key_file: join(dir, 'server.key'),
      authenticate_service_url: `https://authenticate.localhost:${port}`,
      idp_provider_url: 'http://127.0.0.1:9', idp_client_id: 'x', idp_client_secret: 'y',
      shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET,
      databroker_storage_type: 'memory',
      downstream_mtls: { ca_file: join(dir, 'ca.pem') },
      routes: [{ name: 'open', from: `https://mtls.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }],
    };
    configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, stringify(raw), { mode: 0o600 });
    store = new MemoryStore();
    limen = await startLimen({ config: parseConfig(raw, {}), store, logger: silentLogger });
  });
  after(async () => {
    await limen.close();
    await upstream.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('no certificate: denied by the default-deny rule on both sides; a valid one: the route decides on both', async () => {
    const since = Date.now() - 1000;
    const none = await serverOutcome(limen, store, await httpsGet(port, 'mtls.localhost', pki.ca), since);
    const valid = await serverOutcome(limen, store, await httpsGet(port, 'mtls.localhost', pki.ca, { cert: pki.clientCert, key: pki.clientKey }), since);
    const args = ['policy', 'explain', '--config', configFile, '--url', `https://mtls.localhost:${port}/`, '--no-identity', '--json'];
    const [cliNone, cliValid, cliDefault] = await Promise.all([
      runCli([...args, '--client-cert', 'none']), runCli([...args, '--client-cert', 'valid']), cliInProcess(args),
    ]);
    for (const r of [cliNone, cliValid, cliDefault]) assert.equal(r.code, 0, r.stderr);

    const { time: _a, ...serverNone } = none;
    const { time: _b, ...serverValid } = valid;
    assert.deepEqual(serverNone, { result: 'deny', route: 'open', rule: 'downstream_mtls', reasons: ['invalid-client-certificate'] });
    assert.deepEqual(explainOutcome(cliNone.stdout), serverNone);
    assert.deepEqual(explainOutcome(cliDefault.stdout), serverNone, 'without --client-cert the CLI presents none, as a client without one');
    assert.equal(serverValid.result, 'allow');
    assert.deepEqual(explainOutcome(cliValid.stdout), serverValid);
  });
});
