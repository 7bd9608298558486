/**
 * `npm run cluster`: three Limen replicas (the build, as `limen serve` runs
 * them) on one PostgreSQL database behind nginx as the load balancer, with
 * the development identity provider and the demo upstream. For trying
 * replicas out on one machine: every replica serves every request, a
 * session made on one works on the others, a revocation reaches them all.
 *
 *   npm run cluster [-- --port 8080] [--replicas 3] [--postgres postgres://postgres@127.0.0.1:5432/limen_cluster]
 *
 * Ctrl-C stops everything. Development only (the dev IdP signs anyone in).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { stringify } from 'yaml';
import { startDemoUpstream, startDevIdp } from '../src/devidp/index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    replicas: { type: 'string', default: '3' },
    postgres: { type: 'string', default: process.env.LIMEN_CLUSTER_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/limen_cluster' },
    nginx: { type: 'string', default: process.env.NGINX ?? '/usr/sbin/nginx' },
  },
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Creates the cluster's database when it is missing (connecting to the server's `postgres` database). */
async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`--postgres: expected a database name of letters, digits and _, got "${name}"`);
  const maint = new URL(url);
  maint.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maint.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const lbPort = Number(values.port);
  const n = Number(values.replicas);
  if (!Number.isInteger(lbPort) || lbPort < 0 || lbPort > 65535) throw new Error('--port: expected a port number');
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error('--replicas: expected 1 to 16');
  await ensureDatabase(values.postgres);

  const port = lbPort === 0 ? await freePort() : lbPort;
  const authOrigin = `http://authenticate.localhost:${port}`;
  const clientSecret = randomBytes(16).toString('hex');
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  const idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    clients: [{
      clientId: 'limen-cluster', clientSecret,
      redirectUris: [`${authOrigin}/oauth2/callback`],
      postLogoutRedirectUris: [`${authOrigin}/.pomerium/signed_out`],
    }],
    users: { 'admin@example.com': { name: 'Ada Admin', groups: ['everyone', 'staff', 'admins'] } },
    log: () => undefined,
  });

  const dir = mkdtempSync(join(tmpdir(), 'limen-cluster-'));
  const configPath = join(dir, 'limen.yaml');
  writeFileSync(configPath, stringify({
    insecure_server: true,
    // nginx is the one proxy in front: its X-Forwarded-For entry names the client.
    xff_num_trusted_hops: 1,
    authenticate_service_url: authOrigin,
    idp_provider: 'oidc',
    idp_provider_url: idp.issuer,
    idp_client_id: 'limen-cluster',
    idp_client_secret: clientSecret,
    shared_secret: randomBytes(32).toString('base64'),
    cookie_secret: randomBytes(32).toString('base64'),
    databroker_storage_type: 'postgres',
    databroker_storage_connection_string: values.postgres,
    administrators: ['admin@example.com'],
    routes: [
      { name: 'app', from: `http://app.localhost:${port}`, to: upstream.url, pass_identity_headers: true, policy: { allow: { or: [{ authenticated_user: true }] } } },
      { name: 'staff', from: `http://staff.localhost:${port}`, to: upstream.url, pass_identity_headers: true, policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
    ],
  }), { mode: 0o600 });

  const children: ChildProcess[] = [];
  const replicaPorts: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = await freePort();
    replicaPorts.push(p);
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--config', configPath], {
      env: { ...process.env, ADDRESS: `127.0.0.1:${p}` },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
  }

  writeFileSync(join(dir, 'nginx.conf'), `
worker_processes 1;
error_log ${dir}/nginx-error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
  upstream limen {
${replicaPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://limen;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_buffering off;
    }
  }
}
`);
  const nginx = spawn(values.nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(nginx);

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await idp.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => { void stop(0); });
  process.on('SIGTERM', () => { void stop(0); });
  for (const c of children) {
    c.once('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`cluster: a process exited (${code}); stopping the cluster\n`);
        void stop(1);
      }
    });
  }

  process.stdout.write(
    `Limen cluster: ${n} replicas (ports ${replicaPorts.join(', ')}) on ${values.postgres.replace(/:[^:@/]*@/, ':***@')}, behind nginx\n` +
    `  open http://app.localhost:${port}/   (any email signs in; @example.com also reaches http://staff.localhost:${port}/)\n` +
    `  load balancer: http://127.0.0.1:${port}   config: ${configPath}\n` +
    'Ctrl-C stops everything. Development only.\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`cluster: ${(e as Error).message}\n`);
  process.exit(1);
});
