/**
 * Limen behind a TLS-terminating load balancer (issue 17 item 7): a real
 * nginx on loopback ends TLS with a certificate made for this test and
 * proxies plain HTTP to Limen running with `insecure_server: true`. Routes
 * and the authenticate URL are `https://`, so cookies must get `Secure` and
 * `http:` redirect targets must be refused, although every request reaches
 * Limen's socket as plain HTTP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { freePort, startStack, type Stack } from './stack.js';

const NGINX = '/usr/sbin/nginx';
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const JSON_ACCEPT = { accept: 'application/json' };

/** A self-signed certificate for the test's host names, made with openssl. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=limen-test',
    '-addext', 'subjectAltName=DNS:app.localhost,DNS:authenticate.localhost',
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** nginx in the foreground, one process, everything under `dir`: TLS on `port`, plain HTTP to Limen. */
function startNginx(dir: string, port: number, limenPort: number, tls: { cert: string; key: string }): ChildProcess {
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    location / {
      proxy_pass http://127.0.0.1:${limenPort};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
`);
  return spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function setCookies(res: { headers: Record<string, string | string[] | undefined> }): string[] {
  const v = res.headers['set-cookie'];
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

describe('behind a TLS-terminating load balancer (nginx) with insecure_server', { skip: existsSync(NGINX) ? false : `${NGINX} is not installed` }, () => {
  let s: Stack;
  let dir: string;
  let nginx: ChildProcess;
  let port: number;
  let ca: Buffer;
  let app: string;
  let auth: string;
  const routes = (): Record<string, unknown>[] => [{ name: 'app', from: app, to: 'UPSTREAM', allow_any_authenticated_user: true }];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-tls-lb-'));
    const tls = makeCertificate(dir);
    ca = readFileSync(tls.cert);
    port = await freePort();
    app = `https://app.localhost:${port}`;
    auth = `https://authenticate.localhost:${port}`;
    s = await startStack({ routes: routes(), authOrigin: auth });
    nginx = startNginx(dir, port, s.port, tls);
    let stderr = '';
    nginx.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    // Generous wait for a real process on a loaded machine; no timing assertion.
    for (let i = 0; ; i++) {
      try {
        if ((await request(`${app}/ping`, { tls: { ca }, timeoutMs: 2000 })).status === 200) break;
      } catch (e) {
        if (i >= 150 || nginx.exitCode !== null) throw new Error(`nginx did not come up: ${stderr}${(e as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await s.close();
    await closeHttpAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  test('cookies get Secure although Limen\'s socket is plain HTTP', async () => {
    const start = await request(`${app}/page`, { tls: { ca }, headers: BROWSER_ACCEPT });
    assert.equal(start.status, 302);
    const signIn = new URL(start.header('location')!);
    assert.equal(signIn.origin, auth);
    assert.equal(signIn.searchParams.get('pomerium_redirect_uri'), `${app}/page`, 'the return URL keeps https');
    const nonce = setCookies(start);
    assert.equal(nonce.length, 1);
    assert.match(nonce[0]!, /^_pomerium_signin=[^;]+; Path=\/; Max-Age=\d+; Secure; HttpOnly; SameSite=Lax$/);

    const jar = new CookieJar();
    const flow = await scriptedLogin(`${app}/page`, 'tls@example.com', { jar, tls: { ca } });
    assert.equal(flow.response.status, 200);
    assert.equal(flow.url, `${app}/page`);
    const limenCookies = jar.all().filter((c) => c.name.startsWith('_pomerium'));
    assert.deepEqual(limenCookies.map((c) => `${c.domain} ${c.name}`).sort(), ['app.localhost _pomerium', 'authenticate.localhost _pomerium']);
    for (const c of limenCookies) assert.ok(c.secure, `${c.domain} ${c.name} is Secure`);
    assert.ok(flow.steps.some((st) => st.url === `${auth}/oauth2/callback`), 'the IdP returned to the https authenticate URL');
    assert.equal((await request(`${app}/headers`, { jar, tls: { ca }, headers: JSON_ACCEPT })).status, 200);
  });

  test('http: redirect targets are refused for https routes', async () => {
    for (const [target, want] of [[`http://app.localhost:${port}/`, 400], [`http://app.localhost/`, 400], [`${app}/`, 302]] as const) {
      const res = await request(`${auth}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(target)}`, { tls: { ca }, headers: JSON_ACCEPT });
      assert.equal(res.status, want, target);
      if (want === 302) assert.equal(new URL(res.header('location')!).origin, app, 'bounced to the https route host for a binding');
    }
  });

  test('cookie_secure: false leaves Secure off (as Pomerium), and cannot be combined with SameSite=None', async () => {
    await s.limen.reload(s.configWith(routes(), { cookie_secure: false }));
    try {
      const start = await request(`${app}/page`, { tls: { ca }, headers: BROWSER_ACCEPT });
      assert.equal(start.status, 302);
      assert.doesNotMatch(setCookies(start)[0]!, /Secure/);
    } finally {
      await s.limen.reload(s.configWith(routes()));
    }
    assert.throws(() => s.configWith(routes(), { cookie_secure: false, cookie_same_site: 'none' }), /cookie_secure/);
  });
});
