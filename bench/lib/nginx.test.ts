import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nginxConfig } from './nginx.js';

test('nginx config: one worker, foreground, keep-alive pool, every path inside its directory', () => {
  const conf = nginxConfig({ dir: '/tmp/limen-bench-nginx-x', listenPort: 41000, upstreamPort: 42000 });
  for (const want of [
    /^worker_processes 1;$/m,
    /^daemon off;$/m,
    /^\s+access_log off;$/m,
    /^\s+server 127\.0\.0\.1:42000;$/m,
    /^\s+keepalive 64;$/m,
    /^\s+listen 127\.0\.0\.1:41000;$/m,
    /^\s+proxy_pass http:\/\/bench_upstream;$/m,
    /^\s+proxy_http_version 1\.1;$/m,
    /^\s+proxy_set_header Connection "";$/m,
  ]) assert.match(conf, want);
  // pid, error log and temp paths all live in the run's directory.
  const paths = [...conf.matchAll(/^\s*(pid|error_log|\w+_temp_path) (\S+)/gm)].map((m) => m[2]!);
  assert.equal(paths.length, 7);
  for (const p of paths) assert.ok(p.startsWith('/tmp/limen-bench-nginx-x/'), p);
  // It never listens beyond loopback.
  for (const m of conf.matchAll(/^\s*listen (\S+);$/gm)) assert.match(m[1]!, /^127\.0\.0\.1:/);
});

test('nginx config as a load balancer: every replica in the pool, the client\'s Host passed on', () => {
  const conf = nginxConfig({ dir: '/tmp/limen-bench-nginx-x', listenPort: 41000, upstreamPort: 42000, upstreamPorts: [42001, 42002, 42003], preserveHost: true });
  assert.deepEqual([...conf.matchAll(/^\s+server (\S+);$/gm)].map((m) => m[1]), ['127.0.0.1:42001', '127.0.0.1:42002', '127.0.0.1:42003']);
  assert.match(conf, /^\s+proxy_set_header Host \$http_host;$/m);
  assert.doesNotMatch(nginxConfig({ dir: '/tmp/x', listenPort: 1, upstreamPort: 2 }), /proxy_set_header Host/);
});
