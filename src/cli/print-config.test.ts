import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { main } from './main.js';
import type { CliIo } from './args.js';

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; }, env, stdinIsTTY: true, readStdin: async () => '',
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'limen-print-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Every secret below is distinctive, so "does it appear anywhere in the output" is a sharp test.
const SHARED = Buffer.alloc(32, 0x51).toString('base64');
const COOKIE = Buffer.alloc(32, 0x52).toString('base64');
const ENV_SHARED = Buffer.alloc(32, 0x53).toString('base64');
const FILE_COOKIE = Buffer.alloc(32, 0x54).toString('base64');
const CLIENT_SECRET = 'client-secret-Zq81';
const PG_PASSWORD = 'pg-pass-Xy72';
const BASIC_AUTH = Buffer.from('metrics:metrics-pass-Wv63').toString('base64');
const HEADER_TOKEN = 'upstream-token-Tt44';
const URL_PASSWORD = 'url-pass-Uu55';
const OTEL_TOKEN = 'otel-token-Oo66';
const SIGNING_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const SIGNING = Buffer.from(SIGNING_PEM).toString('base64');
const SECRETS = [SHARED, COOKIE, ENV_SHARED, FILE_COOKIE, CLIENT_SECRET, PG_PASSWORD, BASIC_AUTH, 'metrics-pass-Wv63', HEADER_TOKEN, URL_PASSWORD, OTEL_TOKEN, SIGNING, SIGNING_PEM.split('\n')[1]!];

const TLS_CERT = fileURLToPath(new URL('../config/testdata/tls.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('../config/testdata/tls.key', import.meta.url));

function configFile(name: string, doc: Record<string, unknown>): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

const FULL = {
  certificate_file: TLS_CERT,
  certificate_key_file: TLS_KEY,
  shared_secret: SHARED,
  cookie_secret: COOKIE,
  idp_provider_url: 'https://idp.example.com',
  idp_client_id: 'limen',
  idp_client_secret: CLIENT_SECRET,
  authenticate_service_url: 'https://authenticate.example.com',
  signing_key: SIGNING,
  databroker_storage_type: 'postgres',
  databroker_storage_connection_string: `postgres://limen:${PG_PASSWORD}@db.example.com:5432/limen?sslmode=require`,
  metrics_address: '127.0.0.1:9090',
  metrics_basic_auth: BASIC_AUTH,
  otel_exporter_otlp_endpoint: `https://otel:${URL_PASSWORD}@otel.example.com/v1?access_token=${OTEL_TOKEN}x&tenant=t1`,
  otel_exporter_otlp_headers: { authorization: `Bearer ${OTEL_TOKEN}` },
  log_level: 'warn',
  routes: [{
    name: 'app',
    from: 'https://app.example.com',
    to: 'https://app.internal:8443/',
    allow_any_authenticated_user: true,
    set_request_headers: { Authorization: `Basic ${HEADER_TOKEN}`, 'X-Team': 'platform' },
    policy: { allow: { or: [{ record: { type: 'acl', key: 'email', field: 'level', '>=': 3 } }] } },
  }],
};

test('--print-config prints the file with every secret redacted and the rest as written, then exits 0', async () => {
  const path = configFile('full.yaml', FULL);
  const r = await run(['serve', '--config', path, '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const s of SECRETS) assert.ok(!r.stdout.includes(s), `a secret leaked: ${s.slice(0, 12)}…`);
  const doc = parseYaml(r.stdout) as Record<string, any>;
  for (const key of ['shared_secret', 'cookie_secret', 'idp_client_secret', 'signing_key', 'metrics_basic_auth', 'otel_exporter_otlp_headers']) {
    assert.equal(doc[key], '[redacted]', key);
  }
  assert.equal(doc.databroker_storage_connection_string, 'postgres://limen:[redacted]@db.example.com:5432/limen?sslmode=require');
  const route = doc.routes[0];
  assert.equal(doc.otel_exporter_otlp_endpoint, 'https://otel:[redacted]@otel.example.com/v1?access_token=[redacted]&tenant=t1');
  assert.deepEqual(route.set_request_headers, { Authorization: '[redacted]', 'X-Team': 'platform' });
  assert.deepEqual(route.policy, FULL.routes[0]!.policy, 'a policy is shown as written (record.key is no secret)');
  for (const key of ['idp_provider_url', 'idp_client_id', 'authenticate_service_url', 'log_level', 'metrics_address', 'certificate_file']) {
    assert.equal(doc[key], (FULL as Record<string, unknown>)[key], key);
  }
  // Keys not set are listed with their documented defaults, as comments.
  assert.match(r.stdout, /^# Not set, so their documented defaults apply:$/m);
  assert.match(r.stdout, /^#   cookie_expire: 14h$/m);
  assert.ok(!('cookie_expire' in doc));
});

test('--print-config applies the environment as serve does, and redacts what it sets', async () => {
  const cookieFile = join(dir, 'cookie-secret');
  writeFileSync(cookieFile, `${FILE_COOKIE}\n`);
  const path = configFile('env.yaml', { ...FULL, databroker_storage_type: 'file', databroker_storage_connection_string: join(dir, 'limen.db') });
  const env = { SHARED_SECRET: ENV_SHARED, COOKIE_SECRET_FILE: cookieFile, LOG_LEVEL: 'debug', DATABROKER_STORAGE_CONNECTION_STRING: `host=db user=limen password=${PG_PASSWORD} dbname=limen` };
  const r = await run(['serve', '--config', path, '--print-config'], { ...env, DATABROKER_STORAGE_TYPE: 'postgres' });
  // A libpq keyword string is not a postgres:// URL: the config refuses it, with one line naming the key and no secret.
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^limen serve: .*databroker_storage_connection_string.*\n$/);
  assert.ok(!r.stderr.includes(PG_PASSWORD));

  const { DATABROKER_STORAGE_CONNECTION_STRING: _, ...fileEnv } = env;
  const ok = await run(['serve', '--config', path, '--print-config'], fileEnv);
  assert.equal(ok.code, 0, ok.stderr);
  for (const s of SECRETS) assert.ok(!ok.stdout.includes(s), `a secret leaked: ${s.slice(0, 12)}…`);
  const doc = parseYaml(ok.stdout) as Record<string, unknown>;
  assert.equal(doc.log_level, 'debug', 'the environment wins over the file');
  assert.match(ok.stdout, /^# log_level: from the environment \(LOG_LEVEL\)$/m);
  assert.equal(doc.shared_secret, '[redacted]');
  assert.match(ok.stdout, /^# shared_secret: from the environment \(SHARED_SECRET\)$/m);
  assert.equal(doc.cookie_secret, '[redacted]');
  assert.match(ok.stdout, /^# cookie_secret: from the file named by COOKIE_SECRET_FILE /m);
  assert.equal(doc.databroker_storage_connection_string, join(dir, 'limen.db'), 'a SQLite path is no secret');
});

test('--print-config without --config prints the quickstart, without starting it or writing its data directory', async () => {
  const data = join(dir, 'quickstart-data');
  const r = await run(['serve', '--print-config', '--port', '9300', '--data', data], { COOKIE_SECRET: COOKIE });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(data), 'nothing written');
  assert.ok(!r.stdout.includes(COOKIE));
  const doc = parseYaml(r.stdout) as Record<string, any>;
  assert.equal(doc.address, '127.0.0.1:9300');
  assert.equal(doc.idp_provider_url, 'http://127.0.0.1:9301');
  assert.equal(doc.databroker_storage_connection_string, join(data, 'limen.db'));
  for (const key of ['shared_secret', 'cookie_secret', 'idp_client_secret']) assert.equal(doc[key], '[redacted]', key);
  assert.deepEqual(doc.routes.map((x: { name: string; from: string }) => [x.name, x.from]), [['app', 'http://app.localhost:9300'], ['staff', 'http://staff.localhost:9300']]);
  assert.match(r.stdout, /^# The quickstart's embedded config/);
});

test('--print-config of an invalid config is one line naming the key, exit 1', async () => {
  const path = configFile('bad.yaml', { ...FULL, log_level: 'chatty' });
  const r = await run(['serve', '--config', path, '--print-config']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^limen serve: .*log_level.*\n$/);
});
