import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDestination, type LineMaker } from './line-sink.js';

const SINK = new URL('./line-sink.ts', import.meta.url).pathname;

/**
 * Runs `body` in a child Node process with the sink module as `LineSink`;
 * returns its stdout and stderr. Stdout is left unread until `readAfter`:
 * a number of ms, or `stderr`, the child's first word on standard error
 * (however slowly a loaded machine starts it).
 */
function child(body: string, readAfter: number | 'stderr' = 0): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `import { LineSink } from ${JSON.stringify(SINK)};\n${body}`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    // A reader that does not read at first: the pipe fills (64 KiB) and writes block.
    p.stdout.pause();
    let reading = false;
    const read = (): void => {
      if (reading) return;
      reading = true;
      p.stdout.on('data', (b: Buffer) => out.push(b));
      p.stdout.resume();
    };
    p.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; if (readAfter === 'stderr') read(); });
    if (readAfter !== 'stderr') setTimeout(read, readAfter);
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: err }));
  });
}

function seqs(stdout: string): number[] {
  assert.ok(stdout === '' || stdout.endsWith('\n'), 'the output ends with a whole line');
  return stdout.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { n: number }).n);
}

describe('LineSink: batched access lines on standard output', () => {
  test('lines arrive whole and in order, and drain() resolves once all are written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-sink-'));
    try {
      const path = join(dir, 'out.log');
      const sink = fileDestination(path);
      const pad = 'x'.repeat(300);
      for (let i = 0; i < 5000; i++) {
        sink.write(`{"n":${i},"pad":"${pad}","s":"ünïcødé ✓"}\n`);
        if (i % 700 === 0) await new Promise((r) => setImmediate(r)); // some writes start while others wait
      }
      await sink.close();
      const lines = readFileSync(path, 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 5000 }, (_, i) => i));
      assert.equal(sink.dropped, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ASCII lines (kept as text, encoded in bulk) and other lines arrive in the order given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-sink-'));
    try {
      const path = join(dir, 'out.log');
      const sink = fileDestination(path);
      const pad = 'a'.repeat(200);
      for (let i = 0; i < 3000; i++) {
        // Runs of ASCII lines, long enough to fill a chunk, between single UTF-8 lines; then the two kinds in turn, as a request's lines come.
        if (i % 500 === 499 || (i >= 1000 && i < 1300 && i % 2 === 0)) sink.write(`{"n":${i},"s":"ünïcødé ✓"}\n`);
        else sink.writeAscii(`{"n":${i},"pad":"${pad}"}\n`);
        if (i % 700 === 0) await new Promise((r) => setImmediate(r));
      }
      await sink.close();
      const lines = readFileSync(path, 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), Array.from({ length: 3000 }, (_, i) => i));
      for (const i of [499, 1000, 1298, 2999]) assert.equal((JSON.parse(lines[i]!) as { s?: string }).s, 'ünïcødé ✓');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a process that exits without draining still writes the lines waiting to be written', async () => {
    const r = await child(`
      const sink = new LineSink(1);
      for (let i = 0; i < 4000; i++) sink.write(JSON.stringify({ n: i, pad: 'y'.repeat(200) }) + '\\n');
      process.exit(0);
    `, 300);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(seqs(r.stdout), Array.from({ length: 4000 }, (_, i) => i));
  });

  test('a blocked reader never stalls the event loop; lines beyond the bound are dropped and counted, the rest arrive in order', async () => {
    const r = await child(`
      const sink = new LineSink(1, { maxBufferedBytes: 256 * 1024 });
      let n = 0, maxGap = 0, last = performance.now();
      const tick = setInterval(() => { const t = performance.now(); maxGap = Math.max(maxGap, t - last); last = t; }, 5);
      const end = performance.now() + 600;
      while (performance.now() < end) {
        for (let i = 0; i < 50; i++) {
          const line = JSON.stringify({ n: n++, pad: 'z'.repeat(500) }) + '\\n';
          if (n % 2 === 0) sink.write(line); else sink.writeAscii(line); // both kinds count against the bound
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      clearInterval(tick);
      process.stderr.write(JSON.stringify({ written: n, dropped: sink.dropped, maxGap }) + '\\n');
      await sink.drain();
    `, 'stderr'); // the reader stays blocked for the whole loop
    assert.equal(r.code, 0, r.stderr);
    const stats = JSON.parse(r.stderr.trim().split('\n').pop()!) as { written: number; dropped: number; maxGap: number };
    assert.ok(stats.maxGap < 100, `the event loop went ${stats.maxGap} ms without running a timer`);
    assert.ok(stats.dropped > 0, 'the bound was reached while the reader was blocked');
    const got = seqs(r.stdout);
    assert.equal(got.length + stats.dropped, stats.written, 'every line is written or counted as dropped');
    for (let i = 1; i < got.length; i++) assert.ok(got[i]! > got[i - 1]!, 'in order');
  });
});

describe('LineSink: lines made later, from their facts', () => {
  /** Makes `{"n":…,"t":…}` from a number, remembering what it was asked and when. */
  function counter(): LineMaker<number> & { made: number[]; times: number[] } {
    const made: number[] = [];
    const times: number[] = [];
    return {
      made, times,
      makeLine: (n, time) => {
        made.push(n);
        times.push(time);
        if (n % 7 === 3) return undefined; // no line for this one
        if (n % 11 === 5) throw new Error('cannot be made');
        return `{"n":${n},"t":${time}}\n`;
      },
    };
  }

  test('made at the end of the turn, each in the place it was given among the other lines, with the time it was given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-sink-'));
    mock.timers.enable({ apis: ['Date'], now: 1_000 });
    try {
      const path = join(dir, 'out.log');
      const sink = fileDestination(path);
      const maker = counter();
      const expected: number[] = [];
      for (let i = 0; i < 2000; i++) {
        // Given later, written at once (both kinds) in turn, as a request's authorize, audit and access lines come.
        if (i % 3 === 0) sink.write(`{"n":${i},"s":"ünï"}\n`);
        else if (i % 3 === 1) sink.writeAscii(`{"n":${i}}\n`);
        else sink.writeLater(maker, i);
        if (i % 3 !== 2 || (i % 7 !== 3 && i % 11 !== 5)) expected.push(i);
        mock.timers.tick(1);
        if (i % 300 === 299) {
          const given = maker.made.length;
          await new Promise((r) => setImmediate(r));
          assert.ok(maker.made.length > given, 'made by the end of the turn, without another line to push them');
        }
      }
      await sink.close();
      const lines = readFileSync(path, 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      const parsed = lines.map((l) => JSON.parse(l) as { n: number; t?: number });
      assert.deepEqual(parsed.map((o) => o.n), expected);
      for (const o of parsed) if (o.t !== undefined) assert.equal(o.t, 1_000 + o.n, 'the time when it was given, not when it was made');
      const thrown = maker.made.filter((n) => n % 11 === 5 && n % 7 !== 3).length;
      assert.ok(thrown > 0);
      assert.equal(sink.failed, thrown, 'a maker that throws costs its line only, counted');
    } finally {
      mock.timers.reset();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('drain() and the count of waiting lines include lines not yet made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-sink-'));
    try {
      const path = join(dir, 'out.log');
      const sink = fileDestination(path);
      const maker = counter();
      sink.writeLater(maker, 1);
      sink.writeLater(maker, 2);
      assert.deepEqual(maker.made, [], 'not made while the turn runs');
      assert.equal(sink.waiting, 2);
      await sink.drain();
      assert.deepEqual(readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { n: number }).n), [1, 2]);
      await sink.close();
      sink.writeLater(maker, 4);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(maker.made, [1, 2], 'a closed sink takes no more');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a process that exits before the end of the turn still writes the lines given to be made', async () => {
    const r = await child(`
      const pad = 'y'.repeat(200); // more than the pipe holds: the reader is not reading yet
      const maker = { makeLine: (n) => JSON.stringify({ n, pad }) + '\\n' };
      const sink = new LineSink(1);
      for (let i = 0; i < 4000; i++) if (i % 2 === 0) sink.writeLater(maker, i); else sink.write(JSON.stringify({ n: i, pad }) + '\\n');
      process.exit(0);
    `, 300);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(seqs(r.stdout), Array.from({ length: 4000 }, (_, i) => i));
  });
});
