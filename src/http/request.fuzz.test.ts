/**
 * Fuzzing the request parsers every request goes through before routing:
 * the Host header, cookies, the client address and Accept negotiation.
 * Each takes any string without throwing, and what it returns keeps its
 * documented shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { fuzzSync, mutatedString } from '../../test/support/fuzz.js';
import { clientIp, cookieValue, parseHostHeader, removeCookies } from './request.js';
import { cookieValues } from './cookies.js';
import { prefersHtml } from './respond.js';

const VALID_HOSTS = ['app.example.com', 'APP.Example.COM:8443', 'localhost', '127.0.0.1:80', '[::1]', '[::1]:443', '[::ffff:10.0.0.1]:65535', 'a-b.c_d~e.localhost:1', 'x'];

function formatHost(p: { host: string; port: number | undefined }): string {
  const h = p.host.includes(':') ? `[${p.host}]` : p.host;
  return p.port === undefined ? h : `${h}:${p.port}`;
}

test('Host header: any string is parsed or refused, never throws; a parsed host is canonical and re-parses to itself', () => {
  fuzzSync('host-header', 2000, [fc.oneof(mutatedString(...VALID_HOSTS), fc.string({ maxLength: 300 }))], (value) => {
    const p = parseHostHeader(value);
    if (p === undefined) return;
    assert.ok(p.host.length > 0, 'empty host accepted');
    assert.equal(p.host, p.host.toLowerCase());
    assert.ok(!/[\s/\\?#@%\u0000-\u001f]/.test(p.host), `host with a delimiter: ${JSON.stringify(p.host)}`);
    if (p.port !== undefined) assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535);
    if (p.host.includes(':')) assert.equal(isIP(p.host), 6);
    assert.deepEqual(parseHostHeader(formatHost(p)), p);
  });
});

// RFC 6265 §4.1.1: cookie-name is a token, cookie-value cookie-octets.
const cookieName = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const cookieOctets = fc.stringMatching(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,40}$/);

test('cookies: the first cookie of a name is found, removal removes exactly the named cookies', () => {
  fuzzSync('cookie-header', 1500, [fc.array(fc.tuple(cookieName, cookieOctets), { minLength: 1, maxLength: 8 }), fc.nat(), fc.constantFrom('; ', ';', ' ;  ')], (pairs, pick, sep) => {
    const header = pairs.map(([n, v]) => `${n}=${v}`).join(sep);
    const [name] = pairs[pick % pairs.length]!;
    const first = pairs.find(([n]) => n === name)![1];
    const unquoted = first.length >= 2 && first.startsWith('"') && first.endsWith('"') ? first.slice(1, -1) : first;
    assert.equal(cookieValue(header, name), unquoted);
    const kept = removeCookies(header, new Set([name]));
    assert.equal(cookieValue(kept, name), undefined);
    const others = pairs.filter(([n]) => n !== name);
    assert.equal(kept, others.length === 0 ? undefined : others.map(([n, v]) => `${n}=${v}`).join('; '));
  });
});

test('cookies: damaged Cookie headers never throw and never yield a value spanning a separator', () => {
  const seeds = ['_pomerium=eyJhbGciOiJIUzI1NiJ9.e30.sig; other=1', 'a=1;b=2', '_pomerium="quoted"', '=x; _pomerium=', '_pomerium'];
  fuzzSync('cookie-damaged', 2000, [fc.oneof(mutatedString(...seeds), fc.string({ maxLength: 200 })), fc.constantFrom('_pomerium', 'a', 'b', '', '=')], (header, name) => {
    const v = cookieValue(header, name);
    if (v !== undefined) assert.ok(!v.includes(';'), 'value spans a cookie separator');
    const kept = removeCookies(header, new Set([name]));
    if (name !== '' && kept !== undefined) assert.equal(cookieValue(kept, name), undefined);
  });
});

// The forms these had when written with split: the scanning ones must answer alike for any header.
function cookieValuesBySplit(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (!header || name === '') return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    out.push(value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
  }
  return out;
}
function removeCookiesBySplit(header: string | undefined, names: ReadonlySet<string>): string | undefined {
  if (!header) return undefined;
  const kept = header.split(';').map((p) => p.trim()).filter((p) => {
    if (!p) return false;
    const eq = p.indexOf('=');
    return !names.has((eq < 0 ? p : p.slice(0, eq)).trim());
  });
  return kept.length > 0 ? kept.join('; ') : undefined;
}

test('cookies: cookieValues and removeCookies answer as splitting the header on semicolons did, for any header', () => {
  const seeds = ['_pomerium=eyJhbGciOiJIUzI1NiJ9.e30.sig; other=1', 'a=1;b=2', '_pomerium="quoted"', '=x; _pomerium=', '_pomerium', ';;_pomerium=a;;', ' _pomerium = b ;', 'a=b=c; _pomerium==x'];
  const header = fc.oneof(mutatedString(...seeds), fc.string({ maxLength: 120 }), fc.constant(''), fc.constant(undefined));
  fuzzSync('cookie-scan', 3000, [header, fc.constantFrom('_pomerium', 'a', 'b', '', '=', ' a')], (h, name) => {
    assert.deepEqual(cookieValues(h, name), cookieValuesBySplit(h, name));
    const names = new Set([name, '_pomerium_csrf']);
    assert.equal(removeCookies(h, names), removeCookiesBySplit(h, names));
  });
});

test('client address: any X-Forwarded-For yields an IP address (or the peer), never throws', () => {
  const xffSeeds = ['203.0.113.7', '203.0.113.7, 10.0.0.1', '::ffff:1.2.3.4,2001:db8::1', ' , ,', 'unknown, 10.0.0.1'];
  const xff = fc.oneof(mutatedString(...xffSeeds), fc.array(mutatedString(...xffSeeds), { maxLength: 3 }), fc.constant(undefined));
  fuzzSync('client-ip', 1500, [xff, fc.integer({ min: -1, max: 5 })], (header, hops) => {
    const req = { socket: { remoteAddress: '::ffff:192.0.2.1' }, headers: { 'x-forwarded-for': header } } as unknown as IncomingMessage;
    const ip = clientIp(req, hops);
    assert.ok(ip === '192.0.2.1' || isIP(ip) !== 0, `not an address: ${JSON.stringify(ip)}`);
  });
});

test('Accept negotiation never throws on any header', () => {
  const seeds = ['text/html,application/xhtml+xml,*/*;q=0.8', 'application/json', 'application/json;q=0.5, text/html;q=0.9', '*/*', 'text/html;q=abc'];
  fuzzSync('accept', 1000, [fc.oneof(mutatedString(...seeds), fc.string({ maxLength: 100 }))], (accept) => {
    assert.equal(typeof prefersHtml(accept), 'boolean');
  });
});
