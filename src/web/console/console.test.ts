import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from './gate.js';
import { backPath } from './sessions.js';
import { parseClaims } from './policies.js';
import { CONSOLE_CSP, consolePage } from './layout.js';
import { consoleRoutes } from './routes.js';

describe('matchRoute: a path pattern with :params', () => {
  const cases: [pattern: string, path: string, want: Record<string, string> | undefined][] = [
    ['/.pomerium/admin/users', '/.pomerium/admin/users', {}],
    ['/.pomerium/admin/users/:id', '/.pomerium/admin/users/ada%40example.com', { id: 'ada@example.com' }],
    ['/.pomerium/admin/users/:id', '/.pomerium/admin/users/', undefined],
    ['/.pomerium/admin/users/:id', '/.pomerium/admin/users/a/b', undefined],
    ['/.pomerium/admin/users/:id', '/.pomerium/admin/users/%E0%A4%A', undefined],
    ['/.pomerium/admin/users/:id/groups', '/.pomerium/admin/users/x/groups', { id: 'x' }],
    ['/.pomerium/admin/users/:id', `/.pomerium/admin/users/${'x'.repeat(1025)}`, undefined],
  ];
  for (const [pattern, path, want] of cases) {
    test(`${pattern} ~ ${path.slice(0, 60)}`, () => assert.deepEqual(matchRoute(pattern, path), want));
  }
});

describe('backPath: a change returns to a console page, never elsewhere', () => {
  const fallback = '/.pomerium/admin/sessions';
  const cases: [back: string | undefined, want: string][] = [
    ['/.pomerium/admin/users/x', '/.pomerium/admin/users/x'],
    ['/.pomerium/admin/sessions?user=a%40b.c', '/.pomerium/admin/sessions?user=a%40b.c'],
    ['/.pomerium/admin/../../..//evil.example/', fallback],
    ['/.pomerium/admin/../sign_out', fallback],
    ['//evil.example/.pomerium/admin/', fallback],
    ['https://evil.example/.pomerium/admin/', fallback],
    ['/.pomerium/admin/\\evil', fallback],
    ['/.pomerium/admin/x y', fallback],
    ['/.pomerium/adminx', fallback],
    ['javascript:alert(1)', fallback],
    ['', fallback],
    [undefined, fallback],
  ];
  for (const [back, want] of cases) {
    test(String(back), () => assert.equal(backPath(new URLSearchParams(back === undefined ? {} : { back }), fallback), want));
  }
});

describe('parseClaims: name=value lines for the explain form', () => {
  test('JSON values, dotted names nest, strings otherwise', () => {
    assert.deepEqual(parseClaims('admin=true\norg.team=platform\nroles=["a","b"]\n\nname = Ada Lovelace'), {
      admin: true, org: { team: 'platform' }, roles: ['a', 'b'], name: 'Ada Lovelace',
    });
  });
  for (const bad of ['no-equals', '=value', 'a..b=1', '__proto__.x=1', 'constructor=1']) {
    test(`refuses ${bad}`, () => assert.equal(parseClaims(bad), undefined));
  }
});

describe('the console page', () => {
  test('its CSP: no inline script, nothing unsafe, no other origin', () => {
    assert.match(CONSOLE_CSP, /default-src 'none'/);
    assert.match(CONSOLE_CSP, /script-src 'self'(;|$)/);
    assert.match(CONSOLE_CSP, /style-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe|https?:|\*/);
  });
  test('escapes what it shows, and has a skip link, a labelled navigation and one h1', () => {
    const html = consolePage('<script>x</script>', '<p>body</p>', { section: 'users', admin: '"><img src=x>', notice: '<b>n</b>' });
    assert.doesNotMatch(html, /<script>x|<img src=x>|<b>n<\/b>/);
    assert.match(html, /<a class="skip" href="#main">Skip to content<\/a>/);
    assert.match(html, /<nav aria-label="Console">/);
    assert.match(html, /<a href="\/\.pomerium\/admin\/users" aria-current="page">/);
    assert.equal(html.match(/<h1/g)?.length, 1);
    assert.doesNotMatch(html, /<script>|style="/, 'no inline script, no style attribute (the CSP would block them)');
  });
  test('every route is under the console, and every change is a POST', () => {
    for (const r of consoleRoutes()) {
      assert.ok(r.path.startsWith('/.pomerium/admin/'), r.path);
      assert.equal(r.kind === 'change', r.method === 'POST', `${r.method} ${r.path}`);
    }
  });
});
