import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { asciiJson, asciiJsonString, createLogger, isoTime, jsonString, redactFields, REDACTED } from './index.js';
import { fuzzSync } from '../../test/support/fuzz.js';

const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz';

describe('log redaction masks secret values, not fields that share a name with one', () => {
  const cases: { name: string; fields: Record<string, unknown>; want: Record<string, unknown> }[] = [
    // Regression: reload errors said "key":"[redacted]".
    { name: 'a config key name stays visible', fields: { key: 'routes[0].to', error: 'expected a URL' }, want: { key: 'routes[0].to', error: 'expected a URL' } },
    { name: 'ids and reasons stay visible', fields: { token_id: 'abc', reason: 'token-expired', session_id: 's1', request_id: 'r1' }, want: { token_id: 'abc', reason: 'token-expired', session_id: 's1', request_id: 'r1' } },
    { name: 'secret names, any spelling', fields: { shared_secret: 'x', idpClientSecret: 'y', 'refresh-token': 'z', Authorization: 'Basic abc', cookie: 'a=b' }, want: { shared_secret: REDACTED, idpClientSecret: REDACTED, 'refresh-token': REDACTED, Authorization: REDACTED, cookie: REDACTED } },
    { name: 'secret suffixes', fields: { admin_password: 'hunter2', webhook_secret: 's' }, want: { admin_password: REDACTED, webhook_secret: REDACTED } },
    { name: 'non-string secret values too', fields: { token: { raw: 'x' }, password: 12345 }, want: { token: REDACTED, password: REDACTED } },
    { name: 'nested secret fields', fields: { headers: { authorization: 'Bearer abcdefgh12', accept: 'text/html' } }, want: { headers: { authorization: REDACTED, accept: 'text/html' } } },
    { name: 'a JWT inside any text', fields: { error: `bad token ${JWT} given` }, want: { error: `bad token ${REDACTED} given` } },
    { name: 'credentials after an auth scheme', fields: { error: 'header was Bearer Pomerium-abcdefghijkl' }, want: { error: `header was Bearer ${REDACTED}` } },
    { name: 'a password in a URL', fields: { error: 'cannot connect to postgres://app:s3cr3t@db:5432/limen' }, want: { error: `cannot connect to postgres://app:${REDACTED}@db:5432/limen` } },
    { name: 'a URL with a port and no password is kept', fields: { url: 'postgres://db:5432/limen' }, want: { url: 'postgres://db:5432/limen' } },
    { name: 'a PEM private key', fields: { detail: '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----' }, want: { detail: REDACTED } },
    { name: 'lists are walked', fields: { items: [{ password: 'p' }, JWT] }, want: { items: [{ password: REDACTED }, REDACTED] } },
    { name: 'empty and absent secrets stay as they are', fields: { password: '', token: undefined }, want: { password: '', token: undefined } },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(redactFields(c.fields), c.want));
  }

  test('the written line carries the redacted fields and message', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    log.error(`config reload failed: ${JWT}`, { key: 'certificate_file', error: 'cannot read' });
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    assert.equal(line.key, 'certificate_file');
    assert.equal(line.message, `config reload failed: ${REDACTED}`);
    assert.ok(!lines[0]?.includes(JWT));
  });

  // Regression: log_level warn or error dropped the audit lines, and CONTRACT §6 has every decision a line on the log.
  for (const level of ['debug', 'info', 'warn', 'error', 'off'] as const) {
    test(`at ${level}, messages below it are dropped and audit lines are not`, () => {
      const lines: string[] = [];
      const log = createLogger(level, (l) => lines.push(l), { worker: 1 });
      log.info('an info message');
      log.record({ message: 'audit', audit: 'sign_in' });
      log.line?.('{"message":"audit","audit":"authorize"}');
      const msgs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(msgs.filter((m) => m.message === 'audit').map((m) => [m.audit, m.worker]), [['sign_in', 1], ['authorize', 1]]);
      assert.equal(msgs.some((m) => m.message === 'an info message'), level === 'debug' || level === 'info');
      if (level === 'off') { log.error('an error'); assert.ok(!lines.some((l) => l.includes('an error')), 'off: no message at all'); }
    });
  }

  test('setLevel applies from the next message (a reload\'s log_level)', () => {
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    log.debug('hidden');
    log.setLevel?.('debug');
    log.debug('shown');
    log.setLevel?.('error');
    log.warn('hidden too');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { message: string }).message), ['shown']);
  });
});

describe('jsonString is JSON.stringify for strings', () => {
  for (const s of ['', 'GET', 'bench@example.com', 'a"b', 'back\\slash', 'tab\there', 'new\nline', '\u0000', '\u007f', 'ünïcødé', '✓', '\ud800', 'emoji 😀', '</script>']) {
    test(JSON.stringify(s), () => assert.equal(jsonString(s), JSON.stringify(s)));
  }
});

describe('asciiJson: the same JSON value, in ASCII text', () => {
  const values: unknown[] = ['', 'GET', 'a"b', 'tab\there', '\u007f', 'ünïcødé', '✓', '\ud800', '\udfff', 'emoji 😀', ['é', { 'ключ': 'значение' }], 42, null, true];
  for (const v of values) {
    test(JSON.stringify(v), () => {
      for (const text of [asciiJson(v), ...(typeof v === 'string' ? [asciiJsonString(v)] : [])]) {
        assert.match(text, /^[\x20-\x7e]*$/);
        assert.deepEqual(JSON.parse(text), v);
      }
    });
  }
  test('undefined is written as null', () => assert.equal(asciiJson(undefined), 'null'));
});

describe('isoTime is toISOString', () => {
  const same = (t: number): void => assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
  test('at the edges: epoch, before it, leap second days, the last and first millisecond of a second, extended years', () => {
    for (const t of [0, -1, -999, -1000, -1001, 999, 1000, 1001, 1.9, -1.9, -0, 951782400000, 1483228799999, 1483228800000, 253402300799999, 253402300800000, -62167219200001, 8.64e15, -8.64e15]) same(t);
  });
  test('out of range, as toISOString: a RangeError', () => {
    for (const t of [NaN, Infinity, -Infinity, 8.64e15 + 1]) assert.throws(() => isoTime(t), RangeError);
  });
  test('any time, in any order (the cached second never leaks into another)', () => {
    const time = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }), fc.integer({ min: 1.7e12, max: 1.8e12 }));
    fuzzSync<[number[]]>('isoTime', 2000, [fc.array(time)], (ts) => {
      for (const t of ts) same(t);
    });
  });
});
