import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ZoneClock,
  localDayOfWeek,
  localSecondOfDay,
  parseDaysOfWeek,
  parseIsoInstant,
  parseTimeOfDay,
} from './time.js';

const H = 3_600_000;

describe('ZoneClock', () => {
  const cases: [zone: string, utc: string, wantOffsetHours: number][] = [
    ['UTC', '2026-06-01T12:00:00Z', 0],
    ['Europe/Berlin', '2026-01-15T12:00:00Z', 1],
    ['Europe/Berlin', '2026-07-15T12:00:00Z', 2],
    // EU spring forward 2026-03-29 01:00 UTC.
    ['Europe/Berlin', '2026-03-29T00:59:59Z', 1],
    ['Europe/Berlin', '2026-03-29T01:00:00Z', 2],
    // EU fall back 2026-10-25 01:00 UTC.
    ['Europe/Berlin', '2026-10-25T00:59:59Z', 2],
    ['Europe/Berlin', '2026-10-25T01:00:00Z', 1],
    // US spring forward 2026-03-08 at 02:00 EST = 07:00 UTC.
    ['America/New_York', '2026-03-08T06:59:00Z', -5],
    ['America/New_York', '2026-03-08T07:00:00Z', -4],
    ['Asia/Kolkata', '2026-01-01T00:00:00Z', 5.5],
    ['Asia/Kathmandu', '2026-01-01T00:00:00Z', 5.75],
    ['Australia/Lord_Howe', '2026-01-15T00:00:00Z', 11], // half-hour DST
    ['Australia/Lord_Howe', '2026-07-15T00:00:00Z', 10.5],
  ];
  for (const [zone, utc, want] of cases) {
    test(`${zone} at ${utc} is UTC${want >= 0 ? '+' : ''}${want}`, () => {
      const clock = new ZoneClock(zone);
      assert.equal(clock.offsetAt(Date.parse(utc)), want * H);
    });
  }

  test('the hourly cache never serves a stale offset across a transition', () => {
    const clock = new ZoneClock('Europe/Berlin');
    const start = Date.parse('2026-03-28T22:00:00Z');
    // Walk minute by minute over the transition, in order and reversed.
    const minutes = Array.from({ length: 6 * 60 }, (_, i) => start + i * 60_000);
    for (const order of [minutes, [...minutes].reverse()]) {
      for (const t of order) {
        assert.equal(clock.offsetAt(t), t < Date.parse('2026-03-29T01:00:00Z') ? H : 2 * H, new Date(t).toISOString());
      }
    }
  });

  test('unknown zone names throw RangeError', () => {
    for (const zone of ['Mars/Olympus', 'Europe/Berlinn', '']) {
      assert.throws(() => new ZoneClock(zone), RangeError);
    }
  });

  test('instantOf inverts localMs, skipping a gap and taking the first of a repeat', () => {
    const clock = new ZoneClock('Europe/Berlin');
    const local = (iso: string) => Date.parse(`${iso}Z`);
    assert.equal(clock.instantOf(local('2026-01-15T09:00:00')), Date.parse('2026-01-15T08:00:00Z'));
    assert.equal(clock.instantOf(local('2026-07-15T09:00:00')), Date.parse('2026-07-15T07:00:00Z'));
    // 02:30 does not exist on 2026-03-29: resolves past the gap.
    assert.equal(clock.instantOf(local('2026-03-29T02:30:00')), Date.parse('2026-03-29T01:30:00Z'));
    // 02:30 happens twice on 2026-10-25: the first one (still CEST).
    assert.equal(clock.instantOf(local('2026-10-25T02:30:00')), Date.parse('2026-10-25T00:30:00Z'));
  });
});

describe('local calendar helpers', () => {
  test('day of week and second of day', () => {
    const monday = Date.UTC(2026, 0, 5, 10, 30, 15);
    assert.equal(localDayOfWeek(monday), 1);
    assert.equal(localSecondOfDay(monday), 10 * 3600 + 30 * 60 + 15);
    assert.equal(localDayOfWeek(Date.UTC(1969, 11, 31)), 3); // before the epoch
    assert.equal(localSecondOfDay(Date.UTC(1969, 11, 31, 23, 59, 59)), 86_399);
  });
});

describe('parseTimeOfDay', () => {
  const good: [string, number][] = [['09:00', 32_400], ['9:00', 32_400], ['00:00', 0], ['23:59:59', 86_399], ['24:00', 86_400], ['17:30:01', 63_001]];
  for (const [text, want] of good) test(`parses ${text}`, () => assert.equal(parseTimeOfDay(text), want));
  for (const bad of ['', '9', '9am', '24:01', '25:00', '12:60', '12:00:60', '12-00', '012:00', ' 09:00']) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseTimeOfDay(bad), undefined));
  }
});

describe('parseDaysOfWeek', () => {
  const bits = (...days: number[]) => days.reduce((m, d) => m | (1 << d), 0);
  const good: [string, number][] = [
    ['mon', bits(1)],
    ['mon,wed', bits(1, 3)],
    ['mon-fri', bits(1, 2, 3, 4, 5)],
    ['fri-mon', bits(5, 6, 0, 1)],
    ['*', 0x7f],
    ['Monday, Wednesday', bits(1, 3)],
    ['SUN', bits(0)],
    ['sat-sun,wed', bits(6, 0, 3)],
    ['tue-tue', bits(2)],
  ];
  for (const [text, want] of good) test(`parses ${text}`, () => assert.equal(parseDaysOfWeek(text), want));
  const bad: [string, string][] = [
    ['', 'expected at least one day (mon, tue, ..., ranges like mon-fri, or *)'],
    ['moon', '"moon" is not a day (expected sun, mon, tue, wed, thu, fri, sat, full names, a range like mon-fri, or *)'],
    ['mon-fri-sat', '"mon-fri-sat" is not a day or a range of days'],
    ['1-5', '"1-5" is not a day (expected sun, mon, tue, wed, thu, fri, sat, full names, a range like mon-fri, or *)'],
  ];
  for (const [text, want] of bad) test(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseDaysOfWeek(text), want));
});

describe('parseIsoInstant', () => {
  const utc = new ZoneClock('UTC');
  const berlin = new ZoneClock('Europe/Berlin');
  const good: [string, ZoneClock, string][] = [
    ['2026-01-31', utc, '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T09:30:00Z', utc, '2026-01-31T09:30:00.000Z'],
    ['2026-01-31T09:30:00+02:00', utc, '2026-01-31T07:30:00.000Z'],
    ['2026-01-31T09:30:00-0530', utc, '2026-01-31T15:00:00.000Z'],
    ['2026-01-31T09:30', utc, '2026-01-31T09:30:00.000Z'],
    ['2026-01-31T09:30:00.250Z', utc, '2026-01-31T09:30:00.250Z'],
    ['2026-01-31 09:30:00Z', utc, '2026-01-31T09:30:00.000Z'],
    ['2026-01-31', berlin, '2026-01-30T23:00:00.000Z'], // naive: wall-clock in the zone
    ['2026-07-31T09:00:00', berlin, '2026-07-31T07:00:00.000Z'],
    ['2026-07-31T09:00:00Z', berlin, '2026-07-31T09:00:00.000Z'], // explicit offset wins
  ];
  for (const [text, clock, want] of good) {
    test(`parses ${text} in ${clock.timeZone}`, () => {
      const t = parseIsoInstant(text, clock);
      assert.equal(typeof t, 'number');
      assert.equal(new Date(t as number).toISOString(), want);
    });
  }
  const bad: [string, string][] = [
    ['2026-02-30', '"2026-02-30" is not a valid date'],
    ['2026-13-01', '"2026-13-01" is not a valid date'],
    ['2026-01-01T24:00:00Z', '"2026-01-01T24:00:00Z" is not a valid date'],
    ['01/02/2026', '"01/02/2026" is not an ISO-8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)'],
    ['tomorrow', '"tomorrow" is not an ISO-8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)'],
  ];
  for (const [text, want] of bad) test(`refuses ${text}`, () => assert.equal(parseIsoInstant(text, utc), want));
});
