/**
 * The behaviour every Store backend must show, as node:test tests (after
 * Pomerium's `pkg/storage/storagetest`). A backend's test file calls
 * `runStoreContract` with a factory; a new backend is done when it passes.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { DEFAULT_AUDIT_LIMIT, MAX_ID_LENGTH, MAX_TYPE_LENGTH } from './common.js';
import type { AuditEvent, AuditQuery, ChangeEvent, Store, StoredAuditEvent } from './types.js';

export interface StoreContractOptions {
  /**
   * Opens a second instance on the same database as `store`, standing in for
   * another process or replica. Backends that cannot share (memory) omit it.
   */
  readonly openPeer?: (store: Store) => Promise<Store>;
  /**
   * Reads return shared, frozen records instead of copies (the read cache):
   * mutating a result throws instead of being harmless. Either way it never
   * changes what the store holds.
   */
  readonly frozenReads?: boolean;
  /** How long a change made through the peer may take to be reported; default 5000 ms. */
  readonly peerTimeoutMs?: number;
  /**
   * Events carrying an id already stored are not stored again (a retried
   * batch). Memory never retries a write, so it keeps them all.
   */
  readonly dedupesAuditIds?: boolean;
}

/** Collects change events and lets a test wait for one with a deadline. */
class ChangeLog {
  readonly events: ChangeEvent[] = [];
  #waiters: { pred: (e: ChangeEvent) => boolean; resolve: (found: boolean) => void }[] = [];

  readonly listener = (e: ChangeEvent): void => {
    this.events.push(e);
    for (const w of [...this.#waiters]) {
      if (!w.pred(e)) continue;
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve(true);
    }
  };

  /** True once an event matching `pred` has arrived (or had already), false after `timeoutMs`. */
  waitFor(pred: (e: ChangeEvent) => boolean, timeoutMs: number): Promise<boolean> {
    if (this.events.some(pred)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        pred,
        resolve: (found: boolean) => {
          clearTimeout(timer);
          resolve(found);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }
}

/** Fields of an event as a Store returns it: optional fields absent rather than undefined. */
function stored(e: AuditEvent, seq: number): StoredAuditEvent {
  const out: Record<string, unknown> = { seq };
  for (const [k, v] of Object.entries(e)) if (v !== undefined) out[k] = v;
  return out as unknown as StoredAuditEvent;
}

const ODD_IDS: readonly string[] = [
  "it's",
  '"double quoted"',
  'back\\slash',
  '100%',
  '%00',
  'under_score',
  "'; drop table records; --",
  "Robert'); DROP TABLE audit;--",
  '$1',
  '?',
  'ünïcödé',
  '日本語',
  '😀 emoji',
  'line\nbreak',
  'tab\there',
  '\u0001control',
  ' leading space',
  'trailing space ',
  'a/b?c=d&e#f',
  'user@example.com',
  '\uFFFF',
  '\u{10FFFF}',
  'x'.repeat(MAX_ID_LENGTH),
];

/**
 * Defines the contract tests for one backend. `open` must return a store on
 * a fresh, empty database each time; every test closes what it opens.
 */
export function runStoreContract(name: string, open: () => Promise<Store>, opts: StoreContractOptions = {}): void {
  const withStore = async (fn: (s: Store) => Promise<void>): Promise<void> => {
    const s = await open();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  describe(`Store contract: ${name}`, () => {
    test('kind names the backend', () =>
      withStore(async (s) => {
        assert.ok(['memory', 'sqlite', 'postgres'].includes(s.kind), s.kind);
      }));

    describe('records', () => {
      test('put then get returns the record with its metadata', () =>
        withStore(async (s) => {
          const put = await s.put('session', 's1', { user: 'u1', n: 1 }, { index: 'u1', expiresAt: 9000 }, 1234);
          assert.deepEqual(put, {
            type: 'session',
            id: 's1',
            data: { user: 'u1', n: 1 },
            index: 'u1',
            version: put.version,
            modifiedAt: 1234,
            expiresAt: 9000,
          });
          assert.ok(Number.isSafeInteger(put.version) && put.version > 0, `version ${put.version}`);
          assert.deepEqual(await s.get('session', 's1', 1234), put);
        }));

      test('a record without index or expiry has both undefined', () =>
        withStore(async (s) => {
          const put = await s.put('user', 'u1', { email: 'a@example.com' }, {}, 5);
          assert.equal(put.index, undefined);
          assert.equal(put.expiresAt, undefined);
          assert.deepEqual(await s.get('user', 'u1', 5), put);
        }));

      test('get of a missing record, or of the right id under another type, is null', () =>
        withStore(async (s) => {
          await s.put('user', 'u1', {});
          assert.equal(await s.get('user', 'nope'), null);
          assert.equal(await s.get('group', 'u1'), null);
        }));

      test('overwrite replaces data, index and expiry, and raises the version', () =>
        withStore(async (s) => {
          const first = await s.put('user', 'u1', { name: 'old', extra: true }, { index: 'old', expiresAt: 100 }, 10);
          const second = await s.put('user', 'u1', { name: 'new' }, {}, 20);
          assert.ok(second.version > first.version, `${second.version} > ${first.version}`);
          assert.deepEqual(await s.get('user', 'u1', 500), {
            type: 'user',
            id: 'u1',
            data: { name: 'new' },
            index: undefined,
            version: second.version,
            modifiedAt: 20,
            expiresAt: undefined,
          });
          assert.deepEqual(await s.list('user', { index: 'old' }, 0), []);
        }));

      test('replace overwrites a live record and never recreates a deleted or expired one', () =>
        withStore(async (s) => {
          const first = await s.put('session', 's1', { n: 1 }, { index: 'u1', expiresAt: 1000 }, 10);
          const replaced = await s.replace('session', 's1', { n: 2 }, { index: 'u1', expiresAt: 1000 }, 20);
          assert.ok(replaced !== null && replaced.version > first.version);
          assert.deepEqual(await s.get('session', 's1', 20), replaced);
          // Expired: not brought back, even though the row may still be there.
          assert.equal(await s.replace('session', 's1', { n: 3 }, { expiresAt: 5000 }, 1000), null);
          assert.equal(await s.get('session', 's1', 1001), null);
          // Deleted (a revocation): a late write-back leaves it deleted.
          await s.put('session', 's2', { n: 1 }, {}, 10);
          assert.equal(await s.delete('session', 's2'), true);
          assert.equal(await s.replace('session', 's2', { n: 2 }, {}, 20), null);
          assert.equal(await s.get('session', 's2', 20), null);
          assert.equal(await s.replace('session', 'never', { n: 1 }, {}, 20), null);
          assert.equal(await s.get('session', 'never', 20), null);
        }));

      test('versions increase across records and on every put and delete', () =>
        withStore(async (s) => {
          const a = await s.put('t', 'a', {});
          const b = await s.put('t', 'b', {});
          const a2 = await s.put('t', 'a', { again: true });
          assert.ok(a.version < b.version && b.version < a2.version, `${a.version} < ${b.version} < ${a2.version}`);
          assert.equal(await s.delete('t', 'b'), true);
          const c = await s.put('other', 'c', {});
          // The delete took a version of its own in between.
          assert.ok(c.version >= a2.version + 2, `${c.version} >= ${a2.version} + 2`);
        }));

      test('delete removes once, then reports nothing removed', () =>
        withStore(async (s) => {
          await s.put('t', 'a', {});
          await s.put('t', 'b', {});
          assert.equal(await s.delete('t', 'a'), true);
          assert.equal(await s.delete('t', 'a'), false);
          assert.equal(await s.delete('t', 'never'), false);
          assert.equal(await s.delete('other', 'b'), false);
          assert.equal(await s.get('t', 'a'), null);
          assert.deepEqual((await s.list('t')).map((r) => r.id), ['b']);
        }));

      test('list is ordered by id in code point order, one type only', () =>
        withStore(async (s) => {
          const ids = ['b', '\u{1F600}', 'a', '\uFFFF', 'B', '\u00e9', 'aa', '\uE000', 'a b', '10', '9'];
          for (const id of ids) await s.put('t', id, { id });
          await s.put('t2', 'a', {});
          const got = (await s.list('t')).map((r) => r.id);
          assert.deepEqual(got, ['10', '9', 'B', 'a', 'a b', 'aa', 'b', '\u00e9', '\uE000', '\uFFFF', '\u{1F600}']);
          assert.deepEqual(await s.list('nothing-here'), []);
        }));

      test('list filters by index and honours limit', () =>
        withStore(async (s) => {
          await s.put('session', 's3', {}, { index: 'u1' });
          await s.put('session', 's1', {}, { index: 'u1' });
          await s.put('session', 's2', {}, { index: 'u2' });
          await s.put('session', 's4', {});
          await s.put('session', 's0', {}, { index: '' });
          const table: { opts: { index?: string; limit?: number }; want: string[] }[] = [
            { opts: {}, want: ['s0', 's1', 's2', 's3', 's4'] },
            { opts: { index: 'u1' }, want: ['s1', 's3'] },
            { opts: { index: 'u2' }, want: ['s2'] },
            { opts: { index: '' }, want: ['s0'] },
            { opts: { index: 'u9' }, want: [] },
            { opts: { limit: 2 }, want: ['s0', 's1'] },
            { opts: { limit: 10 }, want: ['s0', 's1', 's2', 's3', 's4'] },
            { opts: { limit: 0 }, want: [] },
            { opts: { index: 'u1', limit: 1 }, want: ['s1'] },
          ];
          for (const { opts: o, want } of table) {
            assert.deepEqual((await s.list('session', o)).map((r) => r.id), want, JSON.stringify(o));
          }
          const [first] = await s.list('session', { index: 'u1' });
          assert.equal(first?.index, 'u1');
        }));

      test('expired records are hidden from get and list, and purgeExpired removes them', () =>
        withStore(async (s) => {
          await s.put('session', 'soon', { v: 1 }, { expiresAt: 1000 }, 0);
          await s.put('session', 'later', { v: 2 }, { expiresAt: 5000 }, 0);
          await s.put('session', 'never', { v: 3 }, {}, 0);
          await s.put('user', 'old', {}, { expiresAt: 10 }, 0);
          assert.ok(await s.get('session', 'soon', 999), 'live just before expiresAt');
          // expiresAt is the first instant the record is absent (like JWT exp).
          assert.equal(await s.get('session', 'soon', 1000), null);
          assert.deepEqual((await s.list('session', {}, 999)).map((r) => r.id), ['later', 'never', 'soon']);
          assert.deepEqual((await s.list('session', {}, 1000)).map((r) => r.id), ['later', 'never']);
          assert.deepEqual((await s.list('session', { limit: 1 }, 1000)).map((r) => r.id), ['later']);
          assert.equal(await s.purgeExpired(1000), 2);
          // Gone for good: not there even when asked about an earlier time.
          assert.equal(await s.get('session', 'soon', 0), null);
          assert.equal(await s.get('user', 'old', 0), null);
          assert.ok(await s.get('session', 'later', 0));
          assert.equal(await s.purgeExpired(1000), 0);
          assert.equal(await s.purgeExpired(5000), 1);
          assert.deepEqual((await s.list('session', {}, 0)).map((r) => r.id), ['never']);
        }));

      test('a put over an expired record brings it back with the new expiry', () =>
        withStore(async (s) => {
          await s.put('session', 's', { v: 1 }, { expiresAt: 100 }, 0);
          assert.equal(await s.get('session', 's', 200), null);
          const again = await s.put('session', 's', { v: 2 }, { expiresAt: 300 }, 200);
          assert.deepEqual(await s.get('session', 's', 200), again);
          assert.equal(await s.purgeExpired(200), 0);
        }));

      test('nested JSON data round-trips', () =>
        withStore(async (s) => {
          const data = {
            text: 'with "quotes", \\backslashes\\, a NUL \u0000, tabs\t, newlines\n and 😀',
            int: 42,
            float: 1.5,
            negative: -7,
            maxSafe: Number.MAX_SAFE_INTEGER,
            tiny: 1e-300,
            yes: true,
            no: false,
            nothing: null,
            empty: '',
            list: [1, 'two', { three: [3] }, [], {}],
            nested: { a: { b: { c: { d: [[{ e: 'deep' }]] } } } },
            "key with 'quotes'": 'v',
            'ünï': 'cödé',
            long: 'x'.repeat(100_000),
          };
          await s.put('record:example', 'r1', data);
          assert.deepEqual((await s.get('record:example', 'r1'))?.data, data);
          assert.deepEqual((await s.list('record:example'))[0]?.data, data);
        }));

      test('data is stored as JSON: undefined fields drop, dates become strings', () =>
        withStore(async (s) => {
          const put = await s.put('t', 'j', { a: 1, gone: undefined, when: new Date(0) });
          const want = { a: 1, when: '1970-01-01T00:00:00.000Z' };
          assert.deepEqual(put.data, want);
          assert.deepEqual((await s.get('t', 'j'))?.data, want);
        }));

      test('callers get copies: mutating input or results does not change the store', () =>
        withStore(async (s) => {
          const input = { list: [1], inner: { x: 1 } };
          const put = await s.put('t', 'm', input);
          input.list.push(2);
          put.data.inner.x = 99;
          const got = await s.get<typeof input>('t', 'm');
          assert.deepEqual(got?.data, { list: [1], inner: { x: 1 } });
          if (opts.frozenReads) assert.throws(() => got?.data.list.push(3), TypeError);
          else got?.data.list.push(3);
          assert.deepEqual((await s.get('t', 'm'))?.data, { list: [1], inner: { x: 1 } });
        }));

      test('ids and types with odd characters are stored, listed and deleted exactly', () =>
        withStore(async (s) => {
          const type = `record:odd'type"%_\\`;
          for (const id of ODD_IDS) {
            const put = await s.put(type, id, { id }, { index: id });
            assert.equal(put.id, id);
            assert.deepEqual((await s.get(type, id))?.data, { id }, JSON.stringify(id));
            assert.deepEqual((await s.list(type, { index: id })).map((r) => r.id), [id], JSON.stringify(id));
          }
          const listed = (await s.list(type)).map((r) => r.id);
          assert.equal(listed.length, ODD_IDS.length);
          assert.deepEqual(new Set(listed), new Set(ODD_IDS));
          // Wildcard-looking ids must not match others.
          assert.equal(await s.get(type, '%'), null);
          assert.equal(await s.get(type, '_nder_score'), null);
          for (const id of ODD_IDS) assert.equal(await s.delete(type, id), true, JSON.stringify(id));
          assert.deepEqual(await s.list(type), []);
          const maxType = 't'.repeat(MAX_TYPE_LENGTH);
          await s.put(maxType, 'x', { ok: 1 });
          assert.deepEqual((await s.get(maxType, 'x'))?.data, { ok: 1 });
        }));

      test('unstorable ids and types are refused on put and found nowhere', () =>
        withStore(async (s) => {
          const badIds: unknown[] = ['', 'a\u0000b', '\uD800', 'lone \uDC00 low', 'x'.repeat(MAX_ID_LENGTH + 1), 123, null, undefined, {}];
          for (const id of badIds) {
            await assert.rejects(s.put('t', id as string, {}), TypeError, `put id ${JSON.stringify(id)}`);
            assert.equal(await s.get('t', id as string), null, `get id ${JSON.stringify(id)}`);
            assert.equal(await s.delete('t', id as string), false, `delete id ${JSON.stringify(id)}`);
          }
          const badTypes: unknown[] = ['', 'a\u0000b', '\uDBFF', 't'.repeat(MAX_TYPE_LENGTH + 1), 7];
          for (const type of badTypes) {
            await assert.rejects(s.put(type as string, 'id', {}), TypeError, `put type ${JSON.stringify(type)}`);
            assert.equal(await s.get(type as string, 'id'), null, `get type ${JSON.stringify(type)}`);
          }
          assert.deepEqual(await s.list('t'), []);
        }));

      // Regression: `DELETE /.pomerium/api/v1/groups/%00` was a 500, the
      // group lookup by name listing by an index no record can have.
      test('a list by an index no record can be stored under (NUL, lone surrogate) finds nothing', () =>
        withStore(async (s) => {
          await s.put('t', 'a', {}, { index: 'x' });
          for (const index of ['\u0000', 'a\u0000b', '\uD800', 'lone \uDC00 low']) {
            assert.deepEqual(await s.list('t', { index }), [], `index ${JSON.stringify(index)}`);
          }
          assert.equal((await s.list('t', { index: 'x' })).length, 1);
        }));

      test('bad data, index, times and limits are TypeErrors', () =>
        withStore(async (s) => {
          const circular: Record<string, unknown> = {};
          circular.self = circular;
          for (const data of [undefined, null, 'text', 42, true, circular, { big: 1n }]) {
            await assert.rejects(s.put('t', 'd', data as Record<string, unknown>), TypeError, String(typeof data));
          }
          for (const index of [5, 'a\u0000', '\uD800']) {
            await assert.rejects(s.put('t', 'd', {}, { index: index as string }), TypeError, `index ${JSON.stringify(index)}`);
          }
          for (const t of [NaN, Infinity, -Infinity, '5', null]) {
            await assert.rejects(s.put('t', 'd', {}, { expiresAt: t as number }), TypeError, `expiresAt ${String(t)}`);
            await assert.rejects(s.put('t', 'd', {}, {}, t as number), TypeError, `put now ${String(t)}`);
            await assert.rejects(s.get('t', 'd', t as number), TypeError, `get now ${String(t)}`);
            await assert.rejects(s.list('t', {}, t as number), TypeError, `list now ${String(t)}`);
            await assert.rejects(s.purgeExpired(t as number), TypeError, `purge now ${String(t)}`);
            await assert.rejects(s.pruneAudit(t as number), TypeError, `prune before ${String(t)}`);
          }
          for (const limit of [-1, 1.5, NaN, '2']) {
            await assert.rejects(s.list('t', { limit: limit as number }), TypeError, `limit ${String(limit)}`);
            await assert.rejects(s.queryAudit({ limit: limit as number }), TypeError, `audit limit ${String(limit)}`);
            await assert.rejects(s.queryAudit({ afterSeq: limit as number }), TypeError, `audit afterSeq ${String(limit)}`);
          }
          assert.equal(await s.get('t', 'd'), null, 'nothing was stored by the failed puts');
        }));

      test('concurrent puts all land, each with its own version; the last writer of a record wins', () =>
        withStore(async (s) => {
          const many = await Promise.all(
            Array.from({ length: 50 }, (_, i) => s.put('c', `id${String(i).padStart(2, '0')}`, { i })),
          );
          assert.equal(new Set(many.map((r) => r.version)).size, 50);
          assert.equal((await s.list('c')).length, 50);
          const same = await Promise.all(Array.from({ length: 30 }, (_, i) => s.put('c', 'same', { i })));
          assert.equal(new Set(same.map((r) => r.version)).size, 30);
          const newest = same.reduce((m, r) => (r.version > m.version ? r : m));
          const got = await s.get('c', 'same');
          assert.equal(got?.version, newest.version);
          assert.deepEqual(got?.data, newest.data);
        }));
    });

    describe('audit', () => {
      const EVENTS: readonly AuditEvent[] = [
        { time: 1000, kind: 'authorize', decision: 'allow', route: 'r1', userId: 'u1', email: 'Alice@Example.com', requestId: 'q0', details: { n: 0, path: '/a' } },
        { time: 2000, kind: 'authorize', decision: 'deny', route: 'r2', userId: 'u2', email: 'bob@example.com', requestId: 'q1', details: { n: 1, reasons: ['email-unauthorized'] } },
        { time: 3000, kind: 'sign_in', userId: 'u1', email: 'alice@example.com', details: { n: 2 } },
        { time: 3000, kind: 'service_account.create', actor: 'admin@example.com', details: { n: 3, nested: { id: 'sa1', tags: ['a', 'b'] } } },
        { time: 4000, kind: 'authorize', decision: 'allow', route: 'r1', userId: 'u3', email: 'ALICE@example.COM', actor: 'admin@example.com', details: { n: 4 } },
      ];

      test('appended events come back in order with increasing seq and all their fields', () =>
        withStore(async (s) => {
          await s.appendAudit(EVENTS.slice(0, 3));
          await s.appendAudit([]);
          await s.appendAudit(EVENTS.slice(3));
          const got = await s.queryAudit({});
          assert.equal(got.length, EVENTS.length);
          for (let i = 1; i < got.length; i++) {
            assert.ok((got[i]?.seq ?? 0) > (got[i - 1]?.seq ?? 0), 'seq increases');
          }
          assert.deepEqual(got, EVENTS.map((e, i) => stored(e, got[i]?.seq ?? -1)));
        }));

      test('undefined optional fields are left out and details default to {}', () =>
        withStore(async (s) => {
          await s.appendAudit([
            { time: 1, kind: 'k', requestId: undefined, decision: undefined, email: undefined, details: { a: undefined, b: 1 } },
            { time: 2, kind: 'no-details' } as unknown as AuditEvent,
          ]);
          const got = await s.queryAudit({});
          assert.deepEqual(got, [
            { seq: got[0]?.seq, time: 1, kind: 'k', details: { b: 1 } },
            { seq: got[1]?.seq, time: 2, kind: 'no-details', details: {} },
          ]);
        }));

      test('each query filter selects the right events', () =>
        withStore(async (s) => {
          await s.appendAudit(EVENTS);
          const table: { q: AuditQuery; want: number[] }[] = [
            { q: {}, want: [0, 1, 2, 3, 4] },
            { q: { since: 3000 }, want: [2, 3, 4] },
            { q: { until: 3000 }, want: [0, 1] },
            { q: { since: 2000, until: 4000 }, want: [1, 2, 3] },
            { q: { since: 5000 }, want: [] },
            { q: { userId: 'u1' }, want: [0, 2] },
            { q: { userId: 'U1' }, want: [] },
            { q: { email: 'alice@EXAMPLE.com' }, want: [0, 2, 4] },
            { q: { email: 'BOB@example.com' }, want: [1] },
            { q: { email: 'alice' }, want: [] },
            { q: { email: '%' }, want: [] },
            { q: { route: 'r1' }, want: [0, 4] },
            { q: { decision: 'deny' }, want: [1] },
            { q: { decision: 'allow' }, want: [0, 4] },
            { q: { kind: 'authorize' }, want: [0, 1, 4] },
            { q: { kind: 'service_account.create' }, want: [3] },
            { q: { kind: 'authorize', decision: 'allow', route: 'r1', userId: 'u3' }, want: [4] },
            { q: { email: 'alice@example.com', since: 2000 }, want: [2, 4] },
            { q: { limit: 2 }, want: [0, 1] },
            { q: { kind: 'authorize', limit: 2 }, want: [0, 1] },
            { q: { limit: 0 }, want: [] },
            { q: { kind: 'nope' }, want: [] },
          ];
          for (const { q, want } of table) {
            const got = (await s.queryAudit(q)).map((e) => e.details.n);
            assert.deepEqual(got, want, JSON.stringify(q));
          }
          // afterSeq pages in the order results come in (by seq), whatever the times.
          const seqs = (await s.queryAudit({})).map((e) => e.seq);
          const paged: { q: AuditQuery; want: number[] }[] = [
            { q: { afterSeq: 0 }, want: [0, 1, 2, 3, 4] },
            { q: { afterSeq: seqs[1]! }, want: [2, 3, 4] },
            { q: { afterSeq: seqs[1]!, limit: 2 }, want: [2, 3] },
            { q: { afterSeq: seqs[1]!, until: 3000 }, want: [] },
            { q: { afterSeq: seqs[0]!, route: 'r1' }, want: [4] },
            { q: { afterSeq: seqs[4]! }, want: [] },
          ];
          for (const { q, want } of paged) {
            const got = (await s.queryAudit(q)).map((e) => e.details.n);
            assert.deepEqual(got, want, JSON.stringify({ ...q, afterSeq: `seq of event ${seqs.indexOf(q.afterSeq!)}` }));
          }
        }));

      test(`a query returns at most ${DEFAULT_AUDIT_LIMIT} events unless told otherwise`, () =>
        withStore(async (s) => {
          const many = Array.from({ length: DEFAULT_AUDIT_LIMIT + 5 }, (_, i) => ({ time: i, kind: 'bulk', details: { i } }));
          await s.appendAudit(many);
          const got = await s.queryAudit({});
          assert.equal(got.length, DEFAULT_AUDIT_LIMIT);
          assert.deepEqual(got.map((e) => e.details.i).slice(0, 3), [0, 1, 2]);
          assert.equal((await s.queryAudit({ limit: 2000 })).length, DEFAULT_AUDIT_LIMIT + 5);
        }));

      test('a batch with a bad event stores nothing', () =>
        withStore(async (s) => {
          const bad: unknown[] = [
            { time: NaN, kind: 'k', details: {} },
            { time: 1, kind: '', details: {} },
            { time: 1, kind: 5, details: {} },
            { time: 1, kind: 'k', email: 42, details: {} },
            { time: 1, kind: 'k', details: [] },
            { time: 1, kind: 'k', details: 'text' },
            null,
          ];
          for (const e of bad) {
            await assert.rejects(s.appendAudit([EVENTS[0] as AuditEvent, e as AuditEvent]), TypeError, JSON.stringify(e));
          }
          assert.deepEqual(await s.queryAudit({}), []);
        }));

      test('concurrent batches each keep their own order', () =>
        withStore(async (s) => {
          await Promise.all(
            Array.from({ length: 10 }, (_, b) =>
              s.appendAudit(Array.from({ length: 5 }, (_, i) => ({ time: b, kind: `batch${b}`, details: { i } }))),
            ),
          );
          const got = await s.queryAudit({});
          assert.equal(got.length, 50);
          for (let b = 0; b < 10; b++) {
            assert.deepEqual(got.filter((e) => e.kind === `batch${b}`).map((e) => e.details.i), [0, 1, 2, 3, 4]);
          }
        }));

      test('pruneAudit deletes events older than the cutoff and counts them', () =>
        withStore(async (s) => {
          await s.appendAudit(EVENTS);
          assert.equal(await s.pruneAudit(3000), 2);
          assert.deepEqual((await s.queryAudit({})).map((e) => e.details.n), [2, 3, 4]);
          assert.equal(await s.pruneAudit(3000), 0);
          assert.equal(await s.pruneAudit(10_000), 3);
          assert.deepEqual(await s.queryAudit({}), []);
        }));
    });

    describe('audit event ids', () => {
      test('an event id comes back with its event', () =>
        withStore(async (s) => {
          await s.appendAudit([{ id: 'ev-1', time: 1000, kind: 'k', details: {} }, { time: 1001, kind: 'k', details: {} }]);
          const got = await s.queryAudit({});
          assert.deepEqual(got.map((e) => e.id), ['ev-1', undefined]);
        }));

      if (opts.dedupesAuditIds) {
        test('a batch written again after an ambiguous failure is stored once (by event id)', () =>
          withStore(async (s) => {
            const batch: AuditEvent[] = [1, 2, 3].map((n) => ({ id: `retry-${n}`, time: 1000 + n, kind: 'k', details: { n } }));
            await s.appendAudit(batch);
            await s.appendAudit([...batch, { id: 'retry-4', time: 1004, kind: 'k', details: { n: 4 } }]);
            assert.deepEqual((await s.queryAudit({})).map((e) => e.details.n), [1, 2, 3, 4]);
          }));
      }
    });

    describe('leases', () => {
      test('one holder at a time; the holder renews; an expired lease passes on', () =>
        withStore(async (s) => {
          assert.equal(await s.tryLease('upkeep', 'a', 1000, 10_000), true, 'free: a takes it');
          assert.equal(await s.tryLease('upkeep', 'b', 1000, 10_500), false, 'held by a');
          assert.equal(await s.tryLease('upkeep', 'a', 1000, 10_900), true, 'a renews');
          assert.equal(await s.tryLease('upkeep', 'b', 1000, 11_800), false, 'renewed until 11 900');
          assert.equal(await s.tryLease('upkeep', 'b', 1000, 11_900), true, 'expired: b takes it');
          assert.equal(await s.tryLease('upkeep', 'a', 1000, 12_000), false, 'a lost it');
          assert.equal(await s.tryLease('other', 'a', 1000, 12_000), true, 'leases are independent');
        }));

      if (opts.openPeer) {
        test('replicas racing for a free lease: exactly one wins', () =>
          withStore(async (s) => {
            const peer = await opts.openPeer!(s);
            try {
              const wins = await Promise.all([
                s.tryLease('race', 'a', 5000, 50_000), peer.tryLease('race', 'b', 5000, 50_000),
                s.tryLease('race', 'c', 5000, 50_000), peer.tryLease('race', 'd', 5000, 50_000),
              ]);
              assert.equal(wins.filter(Boolean).length, 1);
            } finally {
              await peer.close();
            }
          }));
      }
    });

    describe('watch', () => {
      test('reports puts, deletes and purges with the versions the writes got', () =>
        withStore(async (s) => {
          const log = new ChangeLog();
          const stop = s.watch(log.listener);
          const a = await s.put('session', 'a', {}, { expiresAt: 100 }, 0);
          const b = await s.put('user', 'b', {});
          const b2 = await s.put('user', 'b', { again: true });
          assert.equal(await s.delete('user', 'b'), true);
          assert.equal(await s.delete('user', 'b'), false, 'deleting nothing reports nothing');
          assert.equal(await s.purgeExpired(100), 1);
          stop();
          assert.equal(log.events.length, 5, JSON.stringify(log.events));
          assert.deepEqual(log.events.slice(0, 3), [
            { type: 'session', id: 'a', version: a.version },
            { type: 'user', id: 'b', version: b.version },
            { type: 'user', id: 'b', version: b2.version },
          ]);
          const [del, purge] = log.events.slice(3);
          assert.deepEqual({ type: del?.type, id: del?.id }, { type: 'user', id: 'b' });
          assert.deepEqual({ type: purge?.type, id: purge?.id }, { type: 'session', id: 'a' });
          assert.ok((del?.version ?? 0) > b2.version && (purge?.version ?? 0) > (del?.version ?? 0));
          const later = await s.put('user', 'c', {});
          assert.ok(later.version > (purge?.version ?? 0));
        }));

      test('unsubscribing stops events, for that listener only', () =>
        withStore(async (s) => {
          const one = new ChangeLog();
          const two = new ChangeLog();
          const stopOne = s.watch(one.listener);
          const stopTwo = s.watch(two.listener);
          await s.put('t', 'x', {});
          stopOne();
          stopOne();
          await s.put('t', 'y', {});
          assert.deepEqual(one.events.map((e) => e.id), ['x']);
          assert.deepEqual(two.events.map((e) => e.id), ['x', 'y']);
          stopTwo();
          await s.put('t', 'z', {});
          assert.deepEqual(two.events.map((e) => e.id), ['x', 'y']);
        }));

      test('a listener that throws neither fails the write nor starves other listeners', () =>
        withStore(async (s) => {
          const log = new ChangeLog();
          const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
          const stopBad = s.watch(() => {
            throw new Error('listener bug');
          });
          const stop = s.watch(log.listener);
          const r = await s.put('t', 'x', {});
          assert.deepEqual(log.events, [{ type: 't', id: 'x', version: r.version }]);
          assert.equal((await warned).message, 'listener bug');
          stopBad();
          stop();
        }));

      const openPeer = opts.openPeer;
      if (openPeer !== undefined) {
        const timeout = opts.peerTimeoutMs ?? 5000;
        test('changes made through another instance on the same database are seen and reported', () =>
          withStore(async (s) => {
            const peer = await openPeer(s);
            try {
              const log = new ChangeLog();
              const stop = s.watch(log.listener);
              // The watch may need a moment to connect: write probes until one is heard.
              const deadline = Date.now() + timeout;
              for (let i = 0; ; i++) {
                await peer.put('probe', `p${i}`, {});
                if (await log.waitFor((e) => e.id === `p${i}`, 100)) break;
                assert.ok(Date.now() < deadline, 'no change from the peer was reported in time');
              }
              const put = await peer.put('session', 'from-peer', { who: 'peer' }, { index: 'u9' });
              assert.ok(await log.waitFor((e) => e.id === 'from-peer', timeout), 'peer put reported');
              assert.deepEqual(await s.get('session', 'from-peer'), put);
              assert.equal(await peer.delete('session', 'from-peer'), true);
              assert.ok(await log.waitFor((e) => e.id === 'from-peer' && e.version > put.version, timeout), 'peer delete reported');
              assert.equal(await s.get('session', 'from-peer'), null);
              const reported = log.events.filter((e) => e.type === 'session');
              assert.equal(reported.length, 2, JSON.stringify(reported));
              assert.deepEqual(reported[0], { type: 'session', id: 'from-peer', version: put.version });
              // Our own writes are reported once, not again when the peer's echo arrives.
              const own = await s.put('session', 'own', {});
              assert.ok(await log.waitFor((e) => e.id === 'own', timeout));
              await peer.put('session', 'marker', {});
              assert.ok(await log.waitFor((e) => e.id === 'marker', timeout));
              assert.deepEqual(log.events.filter((e) => e.id === 'own'), [{ type: 'session', id: 'own', version: own.version }]);
              await peer.appendAudit([{ time: 1, kind: 'from-peer', details: {} }]);
              assert.deepEqual((await s.queryAudit({ kind: 'from-peer' })).map((e) => e.kind), ['from-peer']);
              stop();
            } finally {
              await peer.close();
            }
          }));
      }
    });

    test('a closed store refuses further use', () =>
      withStore(async (s) => {
        await s.put('t', 'x', {});
        await s.close();
        await s.close();
        for (const call of [() => s.get('t', 'x'), () => s.put('t', 'y', {}), () => s.list('t'), () => s.queryAudit({})]) {
          await assert.rejects(call(), { code: 'ERR_STORE_CLOSED' });
        }
        assert.throws(() => s.watch(() => undefined), { code: 'ERR_STORE_CLOSED' });
      }));
  });
}
