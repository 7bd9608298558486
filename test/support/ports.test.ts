import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { freePort } from './ports.js';

test('freePort gives ports a listener can take, none of which the kernel hands a server on port 0', async () => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const chosen = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  // Servers on port 0 meanwhile, as a stack starts its IdP and upstream: never one of the chosen ports.
  const zero = await Promise.all(Array.from({ length: 20 }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  try {
    for (const p of chosen) assert.ok(p >= 10_000 && p < low, `${p} is below the ephemeral range (${low})`);
    const taken = new Set(zero.map((s) => (s.address() as AddressInfo).port));
    for (const p of chosen) assert.ok(!taken.has(p));
    for (const p of new Set(chosen)) {
      await new Promise<void>((resolve, reject) => { const s = createServer(); s.once('error', reject); s.listen(p, '127.0.0.1', () => s.close(() => resolve())); });
    }
  } finally {
    await Promise.all(zero.map((s) => new Promise((r) => s.close(r))));
  }
});
