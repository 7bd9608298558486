/**
 * What the upstream receives as `X-Forwarded-For`, for every
 * `xff_num_trusted_hops`: the client's list (every field of that name, in
 * order) with the address of the connection's peer appended, as Envoy does
 * under Pomerium. The setting decides only which address Limen takes as the
 * client (the `ip` of the logs, `source_ip` of policy). Regression: with
 * `xff_num_trusted_hops: 1`, `X-Forwarded-For: 203.0.113.7` from 127.0.0.1
 * reached the upstream as `203.0.113.7, 203.0.113.7` (the client appended
 * instead of the peer).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startStack, type Stack } from './stack.js';
import type { EchoReport } from '../src/devidp/index.js';

const PEER = '127.0.0.1';
const ROUTES = [{ name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true }];
const LOG_FIELDS = { access_log_fields: ['request-id', 'ip', 'forwarded-for'] };

interface Case {
  readonly name: string;
  /** The `X-Forwarded-For` header lines the client sends, in order. */
  readonly xff: readonly string[];
  readonly hops: number;
  /** Exactly the `X-Forwarded-For` lines the upstream receives. */
  readonly upstream: readonly string[];
  /** The client address Limen logs (`ip`). */
  readonly ip: string;
}

const CASES: readonly Case[] = [
  { name: 'no X-Forwarded-For, hops 0', xff: [], hops: 0, upstream: [PEER], ip: PEER },
  { name: 'no X-Forwarded-For, hops 1', xff: [], hops: 1, upstream: [PEER], ip: PEER },
  { name: 'no X-Forwarded-For, hops 2', xff: [], hops: 2, upstream: [PEER], ip: PEER },
  { name: 'one entry, hops 0', xff: ['203.0.113.7'], hops: 0, upstream: ['203.0.113.7, 127.0.0.1'], ip: PEER },
  { name: 'one entry, hops 1 (the finding)', xff: ['203.0.113.7'], hops: 1, upstream: ['203.0.113.7, 127.0.0.1'], ip: '203.0.113.7' },
  { name: 'one entry, hops 2 (fewer entries than hops: the peer is the client)', xff: ['203.0.113.7'], hops: 2, upstream: ['203.0.113.7, 127.0.0.1'], ip: PEER },
  { name: 'two entries, hops 0', xff: ['198.51.100.4, 203.0.113.7'], hops: 0, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: PEER },
  { name: 'two entries, hops 1', xff: ['198.51.100.4, 203.0.113.7'], hops: 1, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: '203.0.113.7' },
  { name: 'two entries, hops 2', xff: ['198.51.100.4, 203.0.113.7'], hops: 2, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: '198.51.100.4' },
  { name: 'two header lines, hops 0', xff: ['198.51.100.4', '203.0.113.7'], hops: 0, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: PEER },
  { name: 'two header lines, hops 1', xff: ['198.51.100.4', '203.0.113.7'], hops: 1, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: '203.0.113.7' },
  { name: 'two header lines, hops 2', xff: ['198.51.100.4', '203.0.113.7'], hops: 2, upstream: ['198.51.100.4, 203.0.113.7, 127.0.0.1'], ip: '198.51.100.4' },
  // An empty field adds nothing (the upstream got ", 127.0.0.1").
  { name: 'an empty header, hops 0', xff: [''], hops: 0, upstream: ['127.0.0.1'], ip: PEER },
  { name: 'an empty line then one entry, hops 1', xff: ['', '203.0.113.7'], hops: 1, upstream: ['203.0.113.7, 127.0.0.1'], ip: '203.0.113.7' },
];

/**
 * Sends one GET with exactly these header lines over a fresh connection
 * (so two `X-Forwarded-For` fields stay two lines on the wire) and returns
 * the response's request id and the demo upstream's echo.
 */
function rawGet(port: number, host: string, lines: readonly string[]): Promise<{ status: number; requestId: string | undefined; echo: EchoReport }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      try {
        resolve({
          status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
          requestId: /\r\nx-request-id: ([^\r]*)/i.exec(head)?.[1],
          echo: JSON.parse(text.slice(split + 4)) as EchoReport,
        });
      } catch (e) { reject(new Error(`not an echo: ${text.slice(0, 300)}`, { cause: e })); }
    });
    sock.write(`GET /xff HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`);
  });
}

describe('X-Forwarded-For toward the upstream', () => {
  let s: Stack;
  const lines: string[] = [];
  before(async () => {
    s = await startStack({ routes: ROUTES, logLines: lines, config: LOG_FIELDS });
  });
  after(async () => {
    await s?.close();
  });

  for (const hops of [0, 1, 2]) {
    test(`xff_num_trusted_hops: ${hops}`, async () => {
      await s.limen.reload(s.configWith(ROUTES, { xff_num_trusted_hops: hops }));
      for (const c of CASES.filter((x) => x.hops === hops)) {
        const r = await rawGet(s.port, `public.localhost:${s.port}`, c.xff.map((v) => `X-Forwarded-For: ${v}`));
        assert.equal(r.status, 200, c.name);
        const got = r.echo.raw_headers.filter(([name]) => name.toLowerCase() === 'x-forwarded-for').map(([, value]) => value);
        assert.deepEqual(got, c.upstream, c.name);
        // The access line names the client this setting chose, and the chain as the upstream got it.
        const line = await accessLine(lines, r.requestId);
        assert.ok(line, `${c.name}: an access line`);
        assert.equal(line.ip, c.ip, c.name);
        assert.equal(line['forwarded-for'], c.upstream.join(', '), c.name);
      }
    });
  }
});

/** The access line with this request id (written when the response closes, which may be just after the client has it all). */
async function accessLine(lines: string[], requestId: string | undefined): Promise<Record<string, unknown> | undefined> {
  const end = Date.now() + 10_000;
  for (;;) {
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'http-request' && l['request-id'] === requestId);
    if (line || Date.now() > end) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
}
