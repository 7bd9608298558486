import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { request } from '../../test/support/http.js';
import { decodeUnverifiedJwtPayload, startDemoUpstream, type DemoUpstream, type EchoReport } from './index.js';

const MiB = 1024 * 1024;

function jwt(payload: unknown): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc(payload)}.c2lnbmF0dXJl`;
}

/** The bytes /stream sends: byte i is i mod 256. */
function expectedStreamSha256(total: number): string {
  const block = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i & 0xff));
  const hash = createHash('sha256');
  for (let left = total; left > 0; left -= block.length) hash.update(left >= block.length ? block : block.subarray(0, left));
  return hash.digest('hex');
}

async function* generated(total: number, chunk = 64 * 1024): AsyncGenerator<Uint8Array> {
  const block = Buffer.alloc(chunk, 0x61);
  for (let left = total; left > 0; left -= chunk) yield left >= chunk ? block : block.subarray(0, left);
}

// Forced collections make the numbers mean "live memory", not "garbage not yet collected".
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Samples memory (after a forced GC) while `work` runs; returns the largest
 * growth of RSS and of live ArrayBuffer memory (where body chunks live).
 */
async function memoryGrowthDuring(work: () => Promise<void>): Promise<{ rss: number; arrayBuffers: number }> {
  gc();
  const start = process.memoryUsage();
  const peak = { rss: start.rss, arrayBuffers: start.arrayBuffers };
  const sample = (): void => {
    gc();
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
  };
  const timer = setInterval(sample, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  sample();
  return { rss: peak.rss - start.rss, arrayBuffers: peak.arrayBuffers - start.arrayBuffers };
}

let upstream: DemoUpstream;

before(async () => {
  upstream = await startDemoUpstream();
});

after(async () => {
  await upstream.close();
});

describe('startDemoUpstream echo', () => {
  test('JSON echo: method, URL, headers verbatim, decoded assertion and -For', async () => {
    const assertion = { iss: 'app.localhost', sub: 'dev-abc', email: 'alice@example.com', groups: ['everyone', 'staff'] };
    const original = { sub: 'svc-1', email: 'robot@example.com' };
    const res = await request(`${upstream.url}/some/path?x=1&y=%20`, {
      method: 'PATCH',
      headers: {
        accept: 'application/json',
        'X-Custom-Header': 'kept',
        'x-pomerium-jwt-assertion': jwt(assertion),
        'x-pomerium-jwt-assertion-for': jwt(original),
        'x-pomerium-claim-email': 'alice@example.com',
        'x-dup': ['one', 'two'],
      },
      body: 'hello',
    });
    assert.equal(res.status, 200);
    assert.match(res.header('content-type') ?? '', /^application\/json/);
    const echo = res.json<EchoReport>();
    assert.equal(echo.method, 'PATCH');
    assert.equal(echo.url, '/some/path?x=1&y=%20');
    assert.equal(echo.headers['x-custom-header'], 'kept');
    assert.equal(echo.headers['x-pomerium-claim-email'], 'alice@example.com');
    assert.ok(echo.raw_headers.some(([n, v]) => n === 'X-Custom-Header' && v === 'kept'), 'original case kept');
    assert.deepEqual(
      echo.raw_headers.filter(([n]) => n.toLowerCase() === 'x-dup').map(([, v]) => v),
      ['one', 'two'],
      'repeated headers kept separately',
    );
    assert.deepEqual(echo.assertion, assertion);
    assert.deepEqual(echo.assertion_for, original);
    assert.equal(echo.body_bytes, 5);
    assert.equal(echo.body_sha256, createHash('sha256').update('hello').digest('hex'));
    assert.equal(echo.remote_address, '127.0.0.1');
  });

  test('HTML echo is titled "Limen demo upstream", shows the identity and escapes what it echoes', async () => {
    const res = await request(`${upstream.url}/<b>?q="x"`, {
      headers: {
        accept: 'text/html',
        'x-evil': '<script>alert(1)</script>',
        'x-pomerium-jwt-assertion': jwt({ email: 'alice@example.com', groups: ['staff'] }),
      },
    });
    assert.equal(res.status, 200);
    assert.match(res.header('content-type') ?? '', /^text\/html/);
    const html = res.text();
    assert.match(html, /<title>Limen demo upstream<\/title>/);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!html.includes('<script>'), 'nothing echoed is markup');
    assert.ok(html.includes('alice@example.com'));
    assert.match(html, /NOT verified/);
    assert.ok(html.includes('x-evil'), 'header names are shown as received');
  });

  test('content negotiation: JSON only when asked for', async () => {
    const cases: { accept?: string; query?: string; json: boolean }[] = [
      { accept: 'application/json', json: true },
      { accept: 'application/json, text/html;q=0.5', json: true },
      { accept: 'text/html', json: false },
      { accept: 'text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8', json: false },
      { accept: '*/*', json: false },
      { accept: 'application/json;q=0', json: false },
      { json: false },
      { query: 'format=json', json: true },
      { accept: 'application/json', query: 'format=html', json: false },
    ];
    for (const c of cases) {
      const res = await request(`${upstream.url}/neg${c.query ? `?${c.query}` : ''}`, {
        headers: c.accept === undefined ? {} : { accept: c.accept },
      });
      const type = res.header('content-type') ?? '';
      assert.equal(type.startsWith('application/json'), c.json, JSON.stringify(c));
      assert.equal(res.header('vary'), 'accept');
    }
  });

  test('an undecodable assertion is shown verbatim but not decoded', async () => {
    const bad = [
      'garbage',
      'a.b',
      'a.b.c.d',
      `x.${Buffer.from('not json').toString('base64url')}.y`,
      `x.${Buffer.from('[1,2]').toString('base64url')}.y`,
      `x.${Buffer.from('null').toString('base64url')}.y`,
      'x.!!!.y',
    ];
    for (const value of bad) {
      assert.equal(decodeUnverifiedJwtPayload(value), undefined, value);
      const echo = (await request(`${upstream.url}/?format=json`, { headers: { 'x-pomerium-jwt-assertion': value } })).json<EchoReport>();
      assert.equal(echo.assertion, undefined, value);
      assert.equal(echo.headers['x-pomerium-jwt-assertion'], value);
    }
    assert.equal(decodeUnverifiedJwtPayload(undefined), undefined);
    assert.equal(decodeUnverifiedJwtPayload(['a', 'b']), undefined);
  });

  test('HEAD gets the headers and no body', async () => {
    const res = await request(`${upstream.url}/head`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.bodyBytes, 0);
  });
});

describe('startDemoUpstream bodies and streams', () => {
  test('POST and PUT bodies are counted and hashed as they stream in', async () => {
    for (const [method, size] of [
      ['POST', 0],
      ['POST', 1],
      ['PUT', 5 * MiB + 7],
    ] as const) {
      const res = await request(`${upstream.url}/upload?format=json`, { method, body: generated(size) });
      const echo = res.json<EchoReport>();
      assert.equal(echo.body_bytes, size, `${method} ${size}`);
      const want = createHash('sha256');
      for await (const chunk of generated(size)) want.update(chunk);
      assert.equal(echo.body_sha256, want.digest('hex'), `${method} ${size}`);
    }
  });

  test('/stream?bytes=N sends N generated bytes', async () => {
    for (const n of [0, 1, 255, 256, 65_537]) {
      const res = await request(`${upstream.url}/stream?bytes=${n}`);
      assert.equal(res.status, 200);
      assert.equal(res.header('content-length'), String(n));
      assert.equal(res.bodyBytes, n);
      assert.equal(res.bodySha256, expectedStreamSha256(n), `bytes=${n}`);
    }
  });

  test('50 MiB down and 50 MiB up pass with flat memory', async () => {
    const total = 50 * MiB;
    // Warm up first: the first transfer grows RSS by code and heap that stay.
    await request(`${upstream.url}/stream?bytes=${4 * MiB}`, { consume: 'count' });
    await request(`${upstream.url}/?format=json`, { method: 'POST', body: generated(4 * MiB) });

    let downloaded = { bytes: 0, sha: '' };
    const down = await memoryGrowthDuring(async () => {
      const res = await request(`${upstream.url}/stream?bytes=${total}`, { consume: 'count' });
      downloaded = { bytes: res.bodyBytes, sha: res.bodySha256 };
    });
    assert.equal(downloaded.bytes, total);
    assert.equal(downloaded.sha, expectedStreamSha256(total));

    let echo: EchoReport | undefined;
    const up = await memoryGrowthDuring(async () => {
      echo = (await request(`${upstream.url}/?format=json`, { method: 'POST', body: generated(total) })).json<EchoReport>();
    });
    assert.equal(echo?.body_bytes, total);

    // Buffering either direction would hold the whole 50 MiB body live at once.
    // RSS is the loose check (the allocator keeps freed pages); live
    // ArrayBuffer memory after GC is the tight one. Client and server share
    // this process, so chunks in flight between them count too: up to about
    // 10 MiB when the machine is busy, hence 16 MiB, far below 50.
    for (const [name, growth] of [['download', down], ['upload', up]] as const) {
      assert.ok(growth.arrayBuffers < 16 * MiB, `${name}: live buffers grew by ${Math.round(growth.arrayBuffers / MiB)} MiB`);
      assert.ok(growth.rss < 32 * MiB, `${name}: RSS grew by ${Math.round(growth.rss / MiB)} MiB`);
    }
  });

  test('the memory check would catch a buffered body', async () => {
    const growth = await memoryGrowthDuring(async () => {
      const res = await request(`${upstream.url}/stream?bytes=${20 * MiB}`, { consume: 'buffer' });
      assert.equal(res.body.length, 20 * MiB);
    });
    assert.ok(growth.arrayBuffers >= 16 * MiB, `a buffered body shows up (${Math.round(growth.arrayBuffers / MiB)} MiB)`);
  });

  test('/stream refuses a bad byte count with 400', async () => {
    for (const q of ['', 'bytes=', 'bytes=x', 'bytes=-1', 'bytes=1.5', 'bytes=1e3', `bytes=${2 ** 41}`, 'bytes=99999999999999999']) {
      const res = await request(`${upstream.url}/stream?${q}`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, 400, q);
      assert.match(res.json<{ error: string }>().error, /bytes must be an integer/, q);
    }
  });
});

describe('startDemoUpstream /slow and /status', () => {
  // /slow exists to make a proxy's timeout fire, so this measures real elapsed time.
  test('/slow?ms=N answers after N ms', async () => {
    const started = performance.now();
    const res = await request(`${upstream.url}/slow?ms=150&format=json`);
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200);
    assert.equal(res.json<EchoReport>().url, '/slow?ms=150&format=json');
    assert.ok(elapsed >= 140, `answered after ${Math.round(elapsed)} ms`);
  });

  test('/slow survives a client that gives up, and refuses bad values', async () => {
    await assert.rejects(request(`${upstream.url}/slow?ms=5000`, { timeoutMs: 50 }));
    assert.equal((await request(`${upstream.url}/slow?ms=0`)).status, 200, 'still serving');
    for (const q of ['', 'ms=', 'ms=-5', 'ms=abc', `ms=${10 * 60 * 1000 + 1}`]) {
      assert.equal((await request(`${upstream.url}/slow?${q}`)).status, 400, q);
    }
  });

  test('/status/N answers with N', async () => {
    for (const n of [200, 201, 204, 301, 304, 404, 418, 500, 502, 503]) {
      const res = await request(`${upstream.url}/status/${n}`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, n);
      if (n === 204 || n === 304) assert.equal(res.bodyBytes, 0, `${n} has no body`);
      else assert.equal(res.json<EchoReport>().url, `/status/${n}`);
    }
    for (const bad of ['199', '600', '99', '1000', 'abc', '']) {
      assert.equal((await request(`${upstream.url}/status/${bad}`)).status, 400, bad);
    }
  });

  test('close() returns while a client holds an idle keep-alive connection', async () => {
    const other = await startDemoUpstream();
    assert.equal((await request(`${other.url}/`)).status, 200);
    const started = performance.now();
    await other.close();
    assert.ok(performance.now() - started < 1000);
  });

  test('bad options are a TypeError', async () => {
    for (const port of [-1, 65536, 1.5]) {
      await assert.rejects(startDemoUpstream({ port }), TypeError);
    }
  });
});
