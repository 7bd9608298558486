import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cidrContains, compileCidrSet, parseCidr, parseIp } from './ip.js';

describe('parseIp', () => {
  const good: [string, readonly number[]][] = [
    ['1.2.3.4', [0, 0, 0xffff, 0x01020304]],
    ['0.0.0.0', [0, 0, 0xffff, 0]],
    ['255.255.255.255', [0, 0, 0xffff, 0xffffffff]],
    ['::1', [0, 0, 0, 1]],
    ['::', [0, 0, 0, 0]],
    ['2001:db8::8a2e:370:7334', [0x20010db8, 0, 0x8a2e, 0x03707334]],
    ['2001:DB8:0:0:0:0:0:1', [0x20010db8, 0, 0, 1]],
    ['::ffff:1.2.3.4', [0, 0, 0xffff, 0x01020304]],
    ['::ffff:0102:0304', [0, 0, 0xffff, 0x01020304]],
    ['fe80::1%eth0', [0xfe800000, 0, 0, 1]],
    ['1::', [0x00010000, 0, 0, 0]],
  ];
  for (const [text, want] of good) {
    test(`parses ${text}`, () => assert.deepEqual(parseIp(text), want));
  }
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', ':::', '1::2::3',
    '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', ' 1.2.3.4', '1.2.3.4/8', '1:2:3:4:5:6:7::8']) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseIp(bad), undefined));
  }
});

describe('parseCidr and cidrContains', () => {
  const cases: [cidr: string, ip: string, want: boolean][] = [
    ['10.0.0.0/8', '10.200.3.4', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true], // IPv4-mapped IPv6 matches an IPv4 CIDR
    ['10.0.0.0/8', '::ffff:0a01:0203', true],
    ['10.0.0.0/8', '::10.1.2.3', false], // IPv4-compatible (deprecated) form is not mapped
    ['192.168.1.7', '192.168.1.7', true],
    ['192.168.1.7', '192.168.1.8', false],
    ['192.168.1.7/24', '192.168.1.200', true], // host bits ignored
    ['0.0.0.0/0', '8.8.8.8', true],
    ['0.0.0.0/0', '2001:db8::1', false], // all of IPv4, not IPv6
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::/33', '2001:db8:7fff::1', true],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['::/0', '1.2.3.4', true],
    ['::ffff:0:0/96', '1.2.3.4', true],
    ['::1', '::1', true],
    ['::1/128', '::2', false],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['1.2.3.4/32', '1.2.3.4', true],
    ['1.2.3.4/31', '1.2.3.5', true],
    ['1.2.3.4/31', '1.2.3.6', false],
  ];
  for (const [cidrText, ipText, want] of cases) {
    test(`${cidrText} ${want ? 'contains' : 'excludes'} ${ipText}`, () => {
      const cidr = parseCidr(cidrText);
      assert.notEqual(typeof cidr, 'string');
      const ip = parseIp(ipText);
      assert.ok(ip);
      assert.equal(cidrContains(cidr as Exclude<typeof cidr, string>, ip), want);
    });
  }
  const bad: [string, string][] = [
    ['10.0.0.0/33', '"10.0.0.0/33" has a bad prefix length (expected 0 to 32)'],
    ['::/129', '"::/129" has a bad prefix length (expected 0 to 128)'],
    ['10.0.0.0/', '"10.0.0.0/" has a bad prefix length (expected 0 to 32)'],
    ['10.0.0.0/08', '"10.0.0.0/08" has a bad prefix length (expected 0 to 32)'],
    ['10.0.0/8', '"10.0.0/8" is not an IP address or CIDR range'],
    ['example.com', '"example.com" is not an IP address or CIDR range'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64" is not an IP address or CIDR range (zone ids are not allowed)'],
  ];
  for (const [text, want] of bad) {
    test(`refuses ${text}`, () => assert.equal(parseCidr(text), want));
  }
});

describe('compileCidrSet', () => {
  const sets: [cidrs: string[], ip: string, want: boolean][] = [
    [['10.0.0.0/8'], '10.1.2.3', true],
    [['10.0.0.0/8'], '11.1.2.3', false],
    [['10.0.0.0/8'], '::ffff:10.1.2.3', true],
    [['10.0.0.0/8', '192.168.0.0/16'], '192.168.9.9', true],
    [['0.0.0.0/0'], '255.255.255.255', true],
    [['0.0.0.0/0'], '::1', false],
    [['::/0'], '1.2.3.4', true],
    [['::ffff:0:0/96'], '1.2.3.4', true],
    [['::ffff:0:0/104'], '0.255.255.255', true],
    [['::ffff:0:0/104'], '1.0.0.0', false],
    [['2001:db8::/32'], '1.2.3.4', false],
    [['2001:db8::/32'], '2001:db8::9', true],
    [['1.2.3.4'], '1.2.3.4', true],
    [['1.2.3.4'], '1.2.3.5', false],
    [['128.0.0.0/1'], '200.1.1.1', true], // high bit set: unsigned comparison
    [['128.0.0.0/1'], '100.1.1.1', false],
    [[], '1.2.3.4', false],
    [['10.0.0.0/8'], 'not an ip', false],
    [['10.0.0.0/8'], '010.1.2.3', false],
  ];
  for (const [list, ip, want] of sets) {
    test(`[${list.join(', ')}] ${want ? 'contains' : 'excludes'} ${ip}`, () => {
      const contains = compileCidrSet(list.map((c) => parseCidr(c) as Exclude<ReturnType<typeof parseCidr>, string>));
      assert.equal(contains(ip), want);
    });
  }
});
