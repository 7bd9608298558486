import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryStore, type AuditEvent } from '../store/index.js';
import { createLogger, silentLogger } from '../log/index.js';
import { AuditLog, addressPrefix, type AuditEventInput, auditEventJson, formatAuditEvent, MAX_AUDIT_STRING, newAuditEventId, parseTimeBound, readAuditTrail } from './index.js';

const NOW = Date.parse('2030-06-01T12:00:00Z');
const DAY = 86_400_000;

describe('AuditLog', () => {
  test('batches writes: nothing stored until a flush, then every event in order', async () => {
    const store = new MemoryStore();
    const lines: string[] = [];
    const log = new AuditLog({ store, logger: createLogger('info', (l) => { lines.push(l); }), retentionMs: 30 * DAY, now: () => NOW, flushIntervalMs: 60_000, pruneOnStart: false });
    for (let i = 0; i < 10; i++) log.emit({ kind: 'authorize', decision: i % 2 ? 'deny' : 'allow', route: 'app', userId: 'u', requestId: `r${i}`, details: { i } });
    assert.equal((await store.queryAudit({})).length, 0, 'the hot path does not write');
    assert.equal(lines.length, 10, 'each event is one log line at once');
    const line = JSON.parse(lines[3]!) as Record<string, unknown>;
    assert.equal(line.message, 'audit');
    assert.equal(line.audit, 'authorize');
    assert.equal(line.requestId, 'r3');
    assert.equal(line.i, 3);
    await log.flush();
    const stored = await store.queryAudit({});
    assert.deepEqual(stored.map((e) => e.requestId), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    assert.ok(stored.every((e) => e.time === NOW));
    await log.close();
  });

  /** Lines of `events` through the line path (ASCII JSON built as text) and the record path (JSON.stringify of an object), and what each stored. */
  async function bothPaths(events: readonly AuditEventInput[]): Promise<{ viaLine: string[]; viaRecord: string[]; storedLine: unknown[]; storedRecord: unknown[] }> {
    const viaLine: string[] = [];
    const viaRecord: string[] = [];
    const full = createLogger('info', (l) => { viaLine.push(l); });
    const recordOnly = { ...full, line: undefined, record: (rec: Record<string, unknown>) => { viaRecord.push(JSON.stringify(rec) + '\n'); } };
    const sa = new MemoryStore();
    const sb = new MemoryStore();
    const a = new AuditLog({ store: sa, logger: full, retentionMs: DAY, now: () => NOW, flushIntervalMs: 60_000, pruneOnStart: false });
    const b = new AuditLog({ store: sb, logger: recordOnly, retentionMs: DAY, now: () => NOW, flushIntervalMs: 60_000, pruneOnStart: false });
    for (const e of events) { a.emit({ ...e, id: 'same-id' } as AuditEventInput); b.emit({ ...e, id: 'same-id' } as AuditEventInput); }
    await a.close();
    await b.close();
    const rows = async (s: MemoryStore) => (await s.queryAudit({})).map(({ details }) => details);
    return { viaLine, viaRecord, storedLine: await rows(sa), storedRecord: await rows(sb) };
  }

  // Events whose details need bounding are copied, and the copy gets an id of its own.
  const sameIds = (ls: string[]) => ls.map((l) => JSON.parse(l.replace(/"eventId":"[^"]*"/, '"eventId":"x"')) as unknown);

  test('the audit line built as text is ASCII only and the same JSON as the record path, stored alike', async () => {
    const events: AuditEventInput[] = [
      { kind: 'authorize', decision: 'allow', route: 'app', userId: 'u1', email: 'a@example.com', requestId: 'r1', details: { method: 'GET', host: 'app.example.com', path: '/x "quoted" \\ ünï', ip: '::1', reasons: ['email-ok'], rule: undefined, session_id: 's1' } },
      { kind: 'authorize', decision: 'deny', route: 'app', actor: 'admin@example.com', details: { reasons: [], nested: { a: [1, 2, { b: null }] }, n: 1.5, ok: false } },
      { kind: 'sign_in', details: {} },
      { kind: 'sign_in', details: { route: 'collides with a top-level field' } },
      { kind: 'sign_in', details: { 7: 'an integer-like name', z: 'after it' } },
      { kind: 'sign_in', details: { fn: (() => 1) as unknown, sym: Symbol('s') as unknown, u: undefined, d: new Date(NOW) } },
      { kind: 'sign_in', email: 'ünïcode@example.com', userId: '\u{1F600}', details: { n: -0, big: 1e21, nan: Number.NaN, inf: -Infinity, t: true, none: null, list: ['a\u0000', '\u00e9', '\ud800'] } },
      { kind: 'sign_in', details: Object.assign(Object.create({ inherited: 'not own' }) as Record<string, unknown>, { own: 'x' }) },
    ];
    const { viaLine, viaRecord, storedLine, storedRecord } = await bothPaths(events);
    assert.equal(viaLine.length, events.length);
    for (const l of viaLine) assert.match(l, /^[\x20-\x7e]*\n$/, `ASCII only: ${l}`);
    assert.deepEqual(sameIds(viaLine), sameIds(viaRecord));
    assert.deepEqual(storedLine.map((d) => JSON.stringify(d)), storedRecord.map((d) => JSON.stringify(d)));
  });

  // Fragments are kept while a value repeats: lines made one after another must not carry an earlier event's value.
  const repeatCases: { name: string; details: Record<string, unknown>[] }[] = [
    { name: 'the same value, then another, then the first again', details: [{ a: 'x' }, { a: 'x' }, { a: 'y' }, { a: 'x' }] },
    { name: 'a value of another type under the same name', details: [{ a: '1' }, { a: 1 }, { a: true }, { a: 'true' }, { a: null }, { a: ['1'] }, { a: 1 }] },
    { name: 'a list whose strings change, then repeat', details: [{ r: ['p', 'q'] }, { r: ['p', 'q'] }, { r: ['p'] }, { r: [] }, { r: ['p', 'q'] }] },
    { name: 'a name that comes and goes', details: [{ a: 'x', b: 'y' }, { b: 'y' }, { a: 'x', b: 'y' }, { a: undefined, b: 'z' }] },
    { name: 'the same names in another order', details: [{ a: 1, b: 2 }, { b: 2, a: 1 }] },
    { name: 'zero and minus zero, NaN twice', details: [{ n: 0 }, { n: -0 }, { n: Number.NaN }, { n: Number.NaN }, { n: 0 }] },
  ];
  for (const c of repeatCases) {
    test(`audit details kept while they repeat: ${c.name}`, async () => {
      const { viaLine, viaRecord, storedLine, storedRecord } = await bothPaths(c.details.map((details) => ({ kind: 'sign_in', details })));
      assert.deepEqual(sameIds(viaLine), sameIds(viaRecord));
      assert.deepEqual(storedLine, storedRecord);
    });
  }

  test('a list changed in place after its event is written again with what it then holds', async () => {
    const reasons = ['first'];
    const lines: string[] = [];
    const log = new AuditLog({ store: new MemoryStore(), logger: createLogger('info', (l) => { lines.push(l); }), retentionMs: DAY, now: () => NOW, flushIntervalMs: 60_000, pruneOnStart: false });
    log.emit({ kind: 'sign_in', details: { reasons } });
    reasons[0] = 'second';
    log.emit({ kind: 'sign_in', details: { reasons } });
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { reasons: string[] }).reasons), [['first'], ['second']]);
    await log.close();
  });

  test('property: any run of events gives lines and rows with the record path\'s JSON', async () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('GET', '/', 's1', 'ünï'), fc.double(), fc.integer(), fc.boolean(), fc.constant(null),
      fc.constant(undefined), fc.array(fc.constantFrom('a', 'b', 'é'), { maxLength: 3 }), fc.constant({ nested: [1] }),
    );
    const details = fc.dictionary(fc.constantFrom('method', 'path', 'reasons', 'ip', 'n', 'x-y', 'é'), value, { maxKeys: 5 });
    const event = fc.record({ kind: fc.constantFrom('authorize', 'sign_in'), decision: fc.option(fc.constantFrom('allow', 'deny'), { nil: undefined }), email: fc.option(fc.constantFrom('a@example.com', 'ü@example.com'), { nil: undefined }), details });
    await fc.assert(fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 12 }), async (events) => {
      const { viaLine, viaRecord, storedLine, storedRecord } = await bothPaths(events as AuditEventInput[]);
      for (const l of viaLine) assert.match(l, /^[\x20-\x7e]*\n$/);
      assert.deepEqual(sameIds(viaLine), sameIds(viaRecord));
      assert.deepEqual(storedLine, storedRecord);
    }), { numRuns: 200 });
  });

  test('a logger given a writer with writeAscii takes the audit line there, its base fields escaped too', () => {
    const plain: string[] = [];
    const ascii: string[] = [];
    const logger = createLogger('info', { write: (l) => { plain.push(l); }, writeAscii: (l) => { ascii.push(l); } }, { worker: 'wö', pid: 7 });
    const log = new AuditLog({ store: new MemoryStore(), logger, retentionMs: DAY, now: () => NOW, flushIntervalMs: 60_000, pruneOnStart: false });
    log.emit({ kind: 'sign_in', email: 'ü@example.com', details: { p: 'é' } });
    logger.info('a message', { v: 'é' });
    assert.equal(ascii.length, 1);
    assert.match(ascii[0]!, /^[\x20-\x7e]*\n$/);
    assert.deepEqual(JSON.parse(ascii[0]!), { time: new Date(NOW).toISOString(), level: 'info', message: 'audit', audit: 'sign_in', eventId: (JSON.parse(ascii[0]!) as { eventId: string }).eventId, email: 'ü@example.com', p: 'é', worker: 'wö', pid: 7 });
    assert.equal(plain.length, 1, 'other lines go to write, as JSON.stringify makes them');
    assert.equal((JSON.parse(plain[0]!) as { v: string }).v, 'é');
    void log.close();
  });

  test('a full batch is written without waiting for the timer', async () => {
    const store = new MemoryStore();
    const log = new AuditLog({ store, logger: silentLogger, retentionMs: DAY, now: () => NOW, batchSize: 5, flushIntervalMs: 60_000, pruneOnStart: false });
    for (let i = 0; i < 5; i++) log.emit({ kind: 'sign_in', details: {} });
    await new Promise((r) => setImmediate(r));
    assert.equal((await store.queryAudit({})).length, 5);
    await log.close();
  });

  test('retention: prune deletes rows older than audit_retention and keeps the rest', async () => {
    const store = new MemoryStore();
    let now = NOW;
    const log = new AuditLog({ store, logger: silentLogger, retentionMs: 30 * DAY, now: () => now, pruneOnStart: false });
    log.emit({ kind: 'user.create', time: NOW - 31 * DAY, details: {} });
    log.emit({ kind: 'user.update', time: NOW - 30 * DAY, details: {} });
    log.emit({ kind: 'user.delete', time: NOW - DAY, details: {} });
    await log.flush();
    assert.equal(await log.prune(), 1);
    assert.deepEqual((await store.queryAudit({})).map((e) => e.kind), ['user.update', 'user.delete']);
    now = NOW + 29 * DAY;
    assert.equal(await log.prune(), 1);
    assert.deepEqual((await store.queryAudit({})).map((e) => e.kind), ['user.delete']);
    await log.close();
  });

  test('a store that fails or lags loses events visibly, never the request', async () => {
    const errors: string[] = [];
    const logger = { ...silentLogger, error: (m: string) => { errors.push(m); } };
    const store = new MemoryStore();
    const broken = Object.assign(Object.create(store) as MemoryStore, { appendAudit: async () => { throw new Error('disk full'); } });
    const log = new AuditLog({ store: broken, logger, retentionMs: DAY, now: () => NOW, pruneOnStart: false, maxPending: 3, retryDelayMs: 60_000, closeTimeoutMs: 0 });
    for (let i = 0; i < 5; i++) log.emit({ kind: 'sign_in', details: {} });
    await log.flush();
    assert.deepEqual(errors, ['audit events dropped: the store is not keeping up', 'audit write failed; will retry']);
    assert.equal(log.droppedTotal, 2, 'only what exceeded the bound was dropped');
    assert.equal(log.pending(), 3, 'the failed batch is kept for a retry');
    await log.close();
    assert.equal(errors.at(-1), 'audit events lost at shutdown: the store could not be written');
  });

  test('a failed batch is written again, in order, exactly once, when the store comes back', async () => {
    const store = new MemoryStore();
    let failures = 2;
    const flaky = Object.assign(Object.create(store) as MemoryStore, {
      appendAudit: async (events: AuditEvent[]) => {
        if (failures > 0) { failures--; throw new Error('connection terminated'); }
        return store.appendAudit(events);
      },
    });
    const log = new AuditLog({ store: flaky, logger: silentLogger, retentionMs: DAY, now: () => NOW, pruneOnStart: false, retryDelayMs: 1, flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) log.emit({ kind: 'sign_in', details: { i } });
    await log.flush();
    for (let i = 3; i < 5; i++) log.emit({ kind: 'sign_in', details: { i } });
    await log.close();
    const stored = await store.queryAudit({});
    assert.deepEqual(stored.map((e) => e.details.i), [0, 1, 2, 3, 4]);
    assert.equal(new Set(stored.map((e) => e.id)).size, 5, 'each event has its own id');
    assert.equal(log.pending(), 0);
  });

  test('every event gets an id unique across processes', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newAuditEventId()));
    assert.equal(ids.size, 1000);
    assert.match([...ids][0]!, /^[A-Za-z0-9_-]{12}\.[0-9a-z]+$/);
  });

  test('retention runs only where the lease is held', async () => {
    const store = new MemoryStore();
    await store.appendAudit([{ time: NOW - 2 * DAY, kind: 'old', details: {} }]);
    let held = false;
    const log = new AuditLog({ store, logger: silentLogger, retentionMs: DAY, now: () => NOW, pruneOnStart: false, lease: async () => held });
    assert.equal(await log.prune(), 0, 'another replica holds the lease');
    held = true;
    assert.equal(await log.prune(), 1);
    await log.close();
  });
});

describe('readAuditTrail', () => {
  async function seeded(): Promise<MemoryStore> {
    const store = new MemoryStore();
    const events: AuditEvent[] = [];
    for (let i = 0; i < 2500; i++) {
      events.push({ time: NOW + Math.floor(i / 3), kind: 'authorize', decision: i % 5 === 0 ? 'deny' : 'allow', route: i % 2 ? 'a' : 'b', userId: `u${i % 4}`, email: `u${i % 4}@x.org`, details: { i } });
    }
    await store.appendAudit(events);
    return store;
  }

  test('pages through the store and keeps the newest `limit`, oldest first', async () => {
    const store = await seeded();
    const all = await readAuditTrail(store, {}, 10_000);
    assert.equal(all.events.length, 2500, 'nothing missing across pages');
    assert.equal(all.truncated, false);
    assert.deepEqual(all.events.map((e) => e.details.i), [...Array(2500).keys()]);
    const last = await readAuditTrail(store, {}, 7);
    assert.equal(last.truncated, true);
    assert.deepEqual(last.events.map((e) => e.details.i), [2493, 2494, 2495, 2496, 2497, 2498, 2499]);
  });

  test('filters: user by id or email, route, decision, since/until', async () => {
    const store = await seeded();
    const byId = await readAuditTrail(store, { userIds: ['u1'] }, 10_000);
    const byEmail = await readAuditTrail(store, { email: 'U1@x.org' }, 10_000);
    const both = await readAuditTrail(store, { userIds: ['u1'], email: 'u1@x.org' }, 10_000);
    assert.equal(byId.events.length, 625);
    assert.deepEqual(byEmail.events.map((e) => e.seq), byId.events.map((e) => e.seq));
    assert.deepEqual(both.events.map((e) => e.seq), byId.events.map((e) => e.seq), 'merged without duplicates');
    const denies = await readAuditTrail(store, { decision: 'deny', route: 'b' }, 10_000);
    assert.ok(denies.events.length > 0 && denies.events.every((e) => e.decision === 'deny' && e.route === 'b'));
    const window = await readAuditTrail(store, { since: NOW + 10, until: NOW + 12 }, 100);
    assert.deepEqual(window.events.map((e) => e.details.i), [30, 31, 32, 33, 34, 35]);
  });

  // Regression: pages were joined by time, and two writers (workers,
  // replicas) store events out of time order, so events were skipped.
  test('events stored out of time order (two writers) are all read, in the order stored', async () => {
    const store = new MemoryStore();
    // Two writers' batches interleave: the second writer's events are older than the first's.
    for (let b = 0; b < 6; b++) {
      const base = b % 2 === 0 ? NOW + b * 1000 : NOW + (b - 1) * 1000 - 500;
      await store.appendAudit(Array.from({ length: 700 }, (_, i) => ({ time: base + i, kind: 'authorize', route: 'r', details: { b, i } })));
    }
    const r = await readAuditTrail(store, { route: 'r' }, 100_000);
    assert.equal(r.events.length, 4200, 'nothing missing across pages');
    assert.equal(r.truncated, false);
    assert.deepEqual(r.events.map((e) => e.seq), [...r.events.map((e) => e.seq)].sort((a, b) => a - b));
    const since = await readAuditTrail(store, { route: 'r', since: NOW + 1000 }, 100_000);
    assert.equal(since.events.length, (await store.queryAudit({ route: 'r', since: NOW + 1000, limit: 100_000 })).length);
  });

  test('more than a page of events in one millisecond still ends', async () => {
    const store = new MemoryStore();
    await store.appendAudit(Array.from({ length: 2100 }, (_, i) => ({ time: NOW, kind: 'k', details: { i } })));
    await store.appendAudit([{ time: NOW + 1, kind: 'later', details: {} }]);
    const r = await readAuditTrail(store, {}, 5000);
    assert.ok(r.events.some((e) => e.kind === 'later'));
  });

  test('bad limits are a TypeError', async () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(readAuditTrail(new MemoryStore(), {}, limit), TypeError);
    }
  });
});

describe('parseTimeBound', () => {
  const table: [string, number | undefined][] = [
    ['1h', NOW - 3_600_000], ['30m', NOW - 1_800_000], ['7d', NOW - 7 * DAY], ['1h30m', NOW - 5_400_000],
    ['2030-01-01T00:00:00Z', Date.parse('2030-01-01T00:00:00Z')], ['2030-01-01', Date.parse('2030-01-01')],
    ['1700000000000', 1_700_000_000_000],
    ['', undefined], ['yesterday', undefined], ['-1h', undefined], ['1x', undefined], ['2030-13-45', undefined],
  ];
  for (const [text, want] of table) {
    test(JSON.stringify(text), () => assert.equal(parseTimeBound(text, NOW), want));
  }
});

describe('rendering', () => {
  test('JSON has ISO times and snake_case keys; the line names what matters', () => {
    const e = { seq: 4, time: NOW, kind: 'authorize', requestId: 'abc', decision: 'deny', route: 'staff', userId: 'u', email: 'u@x.org', actor: 'admin@x.org', details: { method: 'GET', host: 'staff.example', path: '/x', reasons: ['email-unauthorized'] } };
    assert.deepEqual(auditEventJson(e), {
      seq: 4, time: '2030-06-01T12:00:00.000Z', kind: 'authorize', request_id: 'abc', decision: 'deny', route: 'staff',
      user_id: 'u', email: 'u@x.org', actor: 'admin@x.org', details: e.details,
    });
    assert.equal(formatAuditEvent(e), '2030-06-01T12:00:00.000Z  authorize  deny  route=staff  user=u@x.org  by=admin@x.org  GET staff.example/x  reasons=email-unauthorized  request=abc');
  });
});

describe('bounds: what one event and one anonymous client can store', () => {
  const denial = (ip: string, path: string, extra: Record<string, unknown> = {}): AuditEventInput => ({
    kind: 'authorize', decision: 'login', route: 'app', requestId: `r-${path.length}-${ip}`,
    details: { method: 'GET', host: 'app.example', path, ip, reasons: ['user-unauthenticated'], ...extra },
  });

  test('a 15 KB path is stored cut, with a marker that says how long it was', async () => {
    const store = new MemoryStore();
    const lines: string[] = [];
    const log = new AuditLog({ store, logger: createLogger('info', (l) => { lines.push(l); }), retentionMs: DAY, now: () => NOW, pruneOnStart: false });
    const path = `/${'x'.repeat(15_000)}`;
    log.emit({ kind: 'authorize', decision: 'allow', route: 'app', userId: 'u1', details: { path, reasons: ['email-ok'], nested: { deeper: { list: Array.from({ length: 100 }, (_, i) => i) } } } });
    await log.close();
    const [stored] = await store.queryAudit({});
    const kept = stored!.details.path as string;
    assert.ok(kept.startsWith(path.slice(0, MAX_AUDIT_STRING)));
    assert.match(kept, /…\[truncated: 15001 characters in all\]$/);
    assert.ok(JSON.stringify(stored).length < 2 * MAX_AUDIT_STRING, 'the whole row stays small');
    const list = (stored!.details.nested as { deeper: { list: unknown[] } }).deeper.list;
    assert.equal(list.length, 65);
    assert.equal(list.at(-1), '…[36 more left out]');
    assert.match(lines[0]!, /truncated: 15001/, 'the log line is what was stored');
  });

  test('repeated anonymous denials: the first stored, the rest counted into one row per route, reasons and /24 per interval', async () => {
    const store = new MemoryStore();
    let now = NOW;
    const log = new AuditLog({ store, logger: silentLogger, retentionMs: DAY, now: () => now, pruneOnStart: false, repeatIntervalMs: 60_000 });
    for (let i = 0; i < 500; i++) log.emit(denial(`198.51.100.${i % 200}`, `/p${i}`));
    for (let i = 0; i < 7; i++) log.emit(denial('203.0.113.5', `/q${i}`));
    // Never folded: an allow, an identified caller's denial, another reason.
    for (let i = 0; i < 3; i++) {
      log.emit({ kind: 'authorize', decision: 'allow', route: 'app', details: { ip: '198.51.100.1', reasons: ['accept'] } });
      log.emit({ kind: 'authorize', decision: 'deny', route: 'app', userId: 'u1', email: 'u1@example.com', details: { ip: '198.51.100.1', reasons: ['email-unauthorized'] } });
    }
    log.emit(denial('198.51.100.1', '/other', { reasons: ['invalid-client-certificate'] }));
    await log.flush();
    const during = await store.queryAudit({ limit: 10_000 });
    assert.equal(during.length, 2 + 6 + 1, 'one first row per group, every allow and identified denial');
    now += 60_000;
    log.emit(denial('198.51.100.9', '/next-interval'));
    await log.flush();
    const rows = await store.queryAudit({ limit: 10_000 });
    const summaries = rows.filter((e) => e.details.repeated !== undefined);
    assert.deepEqual(summaries.map((e) => [e.details.ip_prefix, e.details.repeated, e.decision, e.route]), [
      ['198.51.100.0/24', 499, 'login', 'app'],
      ['203.0.113.0/24', 6, 'login', 'app'],
    ]);
    assert.deepEqual(summaries[0]!.details.reasons, ['user-unauthenticated']);
    assert.match(formatAuditEvent(summaries[0]!), /login {2}route=app {2}user=- {2}reasons=user-unauthenticated {2}repeated=499 from=198\.51\.100\.0\/24$/);
    assert.ok(rows.at(-1)!.details.path === '/next-interval', 'a new interval stores its first denial again');
    await log.close();
  });

  test('past the group limit, client prefixes are merged into one counted group', async () => {
    const store = new MemoryStore();
    const log = new AuditLog({ store, logger: silentLogger, retentionMs: DAY, now: () => NOW, pruneOnStart: false, repeatMaxGroups: 4 });
    for (let i = 0; i < 100; i++) log.emit(denial(`10.0.${i}.1`, '/x'));
    await log.close();
    const rows = await store.queryAudit({ limit: 10_000 });
    assert.equal(rows.length, 4 + 1 + 1, 'four groups, the catch-all first row, its summary');
    const all = rows.find((e) => e.details.ip_prefix === '*');
    assert.equal(all?.details.repeated, 100 - 5);
  });

  const prefixes: [unknown, string][] = [
    ['198.51.100.7', '198.51.100.0/24'], ['::ffff:198.51.100.7', '198.51.100.0/24'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'], ['2001:db8::1', '2001:db8:0:0::/64'], ['::1', '0:0:0:0::/64'],
    ['not-an-ip', 'unknown'], [undefined, 'unknown'],
  ];
  for (const [ip, want] of prefixes) test(`address prefix of ${String(ip)}`, () => assert.equal(addressPrefix(ip), want));
});
