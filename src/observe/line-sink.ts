/**
 * Where the access and authorize lines go: whole lines, batched and written
 * to a file descriptor (standard output) off the event loop. A batch is
 * written 20 ms after its first line or once 64 KiB wait, whichever is
 * first, instead of one write per line: at thousands of requests a second
 * the per-line write (a round trip through libuv's thread pool), not the
 * formatting, was the cost (issue 12).
 *
 * Guarantees:
 * - lines are written whole and in the order given (one write in flight at
 *   a time; a partial write is continued before anything else);
 * - the event loop never waits for the reader: writes run on libuv's
 *   thread pool, and while one is blocked (a full pipe, a stalled log
 *   shipper) new lines wait in memory, up to `maxBufferedBytes`;
 * - beyond that bound a line is dropped and counted (`dropped`, exported
 *   as `limen_log_lines_dropped_total`), never lost silently;
 * - `drain()` resolves when every accepted line is written (Limen's
 *   shutdown awaits it); a process that exits without it writes what is
 *   still waiting synchronously (see flushSync).
 *
 * A line can also be given as what it is made from (`writeLater`): it is
 * made at the end of the event loop's turn, with the others given the same
 * way, and takes its place in the order as if written when given. Made
 * one after another, a turn's access lines cost less CPU than made one at
 * a time between the requests' other work: in four of five `npm run bench`
 * runs against the build before, what metrics and the lines add to a
 * signed-in request's CPU was lower (README, issue 12).
 */
import { write as fsWrite, writeSync, openSync, closeSync, fstatSync, constants as fsConstants } from 'node:fs';

/** Anything that takes whole JSON lines (each ending in `\n`). */
export interface LineDestination {
  write(line: string): void;
  /**
   * The same for a line known to be pure ASCII (U+0000 to U+007F), which a
   * destination may keep as text and encode later, in bulk.
   */
  writeAscii?(line: string): void;
  /**
   * A line of ASCII only, made later by `maker` from `facts` (which must
   * not change meanwhile) and the time given now, in its place among the
   * lines written before and after it.
   */
  writeLater?<F>(maker: LineMaker<F>, facts: F): void;
}

/** Makes a line from what was recorded of an event (see `LineDestination.writeLater`). */
export interface LineMaker<F> {
  /** The line (ASCII only, ending in a newline) for `facts`, given at `time` (ms since the epoch), or undefined for none; never throws. */
  makeLine(facts: F, time: number): string | undefined;
}

export interface LineSinkOptions {
  /** Lines held while the reader is slow, in UTF-16 code units (default 16 Mi). */
  readonly maxBufferedBytes?: number;
  /** Close the descriptor on `close()` (when the sink opened it). */
  readonly ownsFd?: boolean;
}

const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;
/** A batch is written once this much is waiting, or FLUSH_MS after its first line, whichever comes first. */
const FLUSH_AT = 64 * 1024;
const FLUSH_MS = 20;
/** Size of the buffers lines are encoded into. */
const CHUNK = 64 * 1024;

/** Batches whole lines and writes them to `fd` asynchronously; see the module comment. */
export class LineSink implements LineDestination {
  /**
   * Lines waiting, already encoded: full chunks, then `chunk` filling up.
   * Encoded at once so the line strings die young; kept as strings for
   * 20 ms, they survived a scavenge or two and were copied each time.
   */
  private full: Buffer[] = [];
  private chunk: Buffer | undefined;
  private used = 0;
  /**
   * ASCII lines waiting as one string (writeAscii), after what `chunk`
   * holds: appending costs no call into the runtime, and they are encoded
   * together, as latin1 (a copy, for ASCII), when a CHUNK of them waits, a
   * line of the other kind comes, or a batch is written. The access lines' per-line encoding cost
   * more in the proxy than in a loop (issue 12).
   */
  private text = '';
  /**
   * Lines given by `writeLater`, not yet made: maker, facts and time, in
   * turn. Made before any other line is taken, so the order holds, and at
   * the end of the turn (`makeLater`): never kept long enough for their
   * facts to outlive the young generation.
   */
  private later: unknown[] = [];
  private laterScheduled = false;
  /** Bytes waiting (full chunks and `used`), and lines among them. */
  private pendingSize = 0;
  private pendingLines = 0;
  private writing = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private waiters: (() => void)[] = [];
  /** The buffer being written and how far the kernel has taken it. */
  private inFlight: { buf: Buffer; off: number } | undefined;
  private readonly max: number;
  /** Lines dropped because the reader fell `maxBufferedBytes` behind. */
  dropped = 0;
  /** Lines a write error lost (the descriptor closed under us, EPIPE). */
  failed = 0;
  private readonly onExit = (): void => { this.flushSync(); };

  constructor(private readonly fd: number, private readonly opts: LineSinkOptions = {}) {
    this.max = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    process.on('exit', this.onExit);
  }

  /** Accepts one whole line; never blocks, never throws. */
  write(line: string): void {
    if (this.closed) return;
    if (this.later.length > 0) this.makeLater();
    if (this.text !== '') this.flushText(); // lines stay in the order given
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: count exactly only when that bound might not fit.
    let room = this.chunk === undefined ? 0 : this.chunk.length - this.used;
    if (line.length * 3 > room) {
      const bytes = Buffer.byteLength(line, 'utf8');
      if (this.pendingSize + bytes > this.max) {
        this.dropped++;
        return;
      }
      if (bytes > room) {
        this.seal();
        this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, bytes));
        room = this.chunk.length;
      }
    } else if (this.pendingSize + line.length * 3 > this.max && this.pendingSize + Buffer.byteLength(line, 'utf8') > this.max) {
      this.dropped++;
      return;
    }
    const n = this.chunk!.write(line, this.used, 'utf8');
    this.used += n;
    this.pendingSize += n;
    this.pendingLines++;
    this.schedule();
  }

  /** Accepts one whole line of ASCII only (the caller's promise: other characters would be written wrong); never blocks, never throws. */
  writeAscii(line: string): void {
    if (this.closed) return;
    if (this.later.length > 0) this.makeLater();
    this.appendAscii(line);
  }

  /** Accepts a line to be made later, in this place among the others (see the module comment); never blocks, never throws. */
  writeLater<F>(maker: LineMaker<F>, facts: F): void {
    if (this.closed) return;
    this.later.push(maker, facts, Date.now());
    if (!this.laterScheduled) {
      this.laterScheduled = true;
      setImmediate(this.makeLaterSoon);
    }
  }

  private readonly makeLaterSoon = (): void => {
    this.laterScheduled = false;
    this.makeLater();
  };

  /** Makes the lines given by writeLater, in order; a maker that throws costs its line, counted in `failed`. */
  private makeLater(): void {
    const later = this.later;
    if (later.length === 0) return;
    this.later = [];
    for (let i = 0; i < later.length; i += 3) {
      let line: string | undefined;
      try {
        line = (later[i] as LineMaker<unknown>).makeLine(later[i + 1], later[i + 2] as number);
      } catch {
        this.failed++;
        continue;
      }
      if (line !== undefined) this.appendAscii(line);
    }
  }

  private appendAscii(line: string): void {
    if (this.pendingSize + line.length > this.max) {
      this.dropped++;
      return;
    }
    this.text += line; // after what `chunk` holds: flushText writes it there, in order
    this.pendingSize += line.length;
    this.pendingLines++;
    if (this.text.length >= CHUNK) this.flushText();
    this.schedule();
  }

  /** Moves the filled part of `chunk` to `full`. */
  private seal(): void {
    if (this.chunk !== undefined && this.used > 0) this.full.push(this.chunk.subarray(0, this.used));
    this.chunk = undefined;
    this.used = 0;
  }

  /**
   * Encodes the ASCII lines waiting as text into `chunk`, after what it
   * holds (a fresh chunk when they do not fit): one call however many lines,
   * and no buffer of their own when lines of both kinds alternate (the
   * audit line between a request's authorize and access lines).
   */
  private flushText(): void {
    const t = this.text;
    if (t === '') return;
    this.text = '';
    if (this.chunk === undefined || t.length > this.chunk.length - this.used) {
      this.seal();
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, t.length));
    }
    this.used += this.chunk.write(t, this.used, 'latin1');
  }

  /** Everything waiting, as one buffer (the chunk's space is not reused: it is written from). */
  private takePending(): Buffer {
    this.makeLater();
    this.flushText();
    this.seal();
    const bufs = this.full;
    this.full = [];
    this.pendingSize = 0;
    this.pendingLines = 0;
    return bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs);
  }

  /** Arranges the next write: at once when a batch is full or someone waits for the drain, else FLUSH_MS after the first line. */
  private schedule(): void {
    if (this.writing || this.scheduled) return;
    if (this.pendingLines === 0) {
      this.wake();
      return;
    }
    if (this.pendingSize >= FLUSH_AT || this.waiters.length > 0) {
      this.scheduled = true;
      setImmediate(this.startWrite);
    } else if (this.timer === undefined) {
      // Not one write per request: a write hands a buffer to the thread pool and back, which costs more than the lines.
      this.timer = setTimeout(this.startWrite, FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Lines accepted and not yet handed to the kernel (tests, diagnostics). */
  get waiting(): number {
    this.makeLater();
    return this.pendingLines;
  }

  /** Bytes accepted and not yet handed to the kernel (ASCII text counted as it will be written). */
  get pendingBytes(): number {
    this.makeLater();
    return this.pendingSize;
  }

  private readonly startWrite = (): void => {
    this.scheduled = false;
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.writing) return;
    if (this.pendingLines === 0) {
      this.wake();
      return;
    }
    this.writing = true;
    this.inFlight = { buf: this.takePending(), off: 0 };
    this.continueWrite();
  };

  private continueWrite(): void {
    const f = this.inFlight!;
    fsWrite(this.fd, f.buf, f.off, f.buf.length - f.off, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EINTR') {
          // A non-blocking pipe that is full: try again shortly, still in order.
          setTimeout(() => this.continueWrite(), 5);
          return;
        }
        this.failed += countLines(f.buf, f.off);
        this.inFlight = undefined;
        this.writing = false;
        this.schedule();
        return;
      }
      f.off += n;
      if (f.off < f.buf.length) {
        this.continueWrite();
        return;
      }
      this.inFlight = undefined;
      this.writing = false;
      this.schedule();
    });
  }

  private wake(): void {
    if (this.writing || this.pendingLines > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when every line accepted so far has been written (or failed). */
  drain(): Promise<void> {
    this.makeLater();
    if (!this.writing && this.pendingLines === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  /**
   * Writes what is waiting synchronously, for a process that exits without
   * `drain()` (an uncaught error, `process.exit`). A batch the thread pool
   * is already writing is left to it: how much of it the kernel has taken
   * cannot be known here, and writing it again could repeat lines. Limen's
   * own shutdown drains instead, which is exact.
   */
  flushSync(): void {
    this.makeLater();
    if (this.pendingLines === 0) return;
    // Behind a write still in flight (the reader has not taken it all), more
    // would be written out of order, or wait for a reader that may never come.
    if (this.writing) {
      this.failed += this.pendingLines;
      this.takePending();
      return;
    }
    writeAllSync(this.fd, this.takePending());
  }

  /** Drains, stops accepting lines and (when it opened it) closes the descriptor. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    process.off('exit', this.onExit);
    if (this.opts.ownsFd) closeSync(this.fd);
  }
}

function countLines(buf: Buffer, from: number): number {
  let n = 0;
  for (let i = buf.indexOf(10, from); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}

/** Writes all of `buf`, retrying a full non-blocking descriptor for up to a second. */
function writeAllSync(fd: number, buf: Buffer): void {
  let off = 0;
  const giveUp = Date.now() + 1000;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'EAGAIN' || code === 'EINTR') && Date.now() < giveUp) continue;
      return;
    }
  }
}

/**
 * A non-blocking description of `fd` when it is a pipe (standard output to
 * a container runtime or a log shipper), on Linux. Written as it is, a
 * blocking pipe whose reader stopped holds a thread-pool thread in write()
 * for ever, and Node.js waits for that thread when the process exits: a
 * stopped proxy would never end. Non-blocking, a full pipe is EAGAIN, retried
 * shortly (continueWrite), and the process can always exit.
 */
function nonBlockingPipe(fd: number): number | undefined {
  try {
    if (!fstatSync(fd).isFIFO()) return undefined;
    return openSync(`/proc/self/fd/${fd}`, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch {
    return undefined; // no /proc, or no reader (ENXIO): the descriptor as it is
  }
}

/** Standard output, batched (the access and authorize lines of `limen serve`). */
export function stdoutDestination(): LineSink {
  const pipe = nonBlockingPipe(1);
  return pipe === undefined ? new LineSink(1) : new LineSink(pipe, { ownsFd: true });
}

/** A file (the benchmark writes to /dev/null), batched like standard output. */
export function fileDestination(path: string): LineSink {
  return new LineSink(openSync(path, 'a'), { ownsFd: true });
}

/** A destination that hands each line to `write` (tests, embedders). */
export function lineDestination(write: (line: string) => void): LineDestination {
  return { write };
}
