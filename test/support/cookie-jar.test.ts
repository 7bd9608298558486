import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CookieJar, defaultPath, domainMatches, parseSetCookie, pathMatches } from './cookie-jar.js';

const T0 = Date.UTC(2030, 0, 1);

function frozenJar(): { jar: CookieJar; advance(ms: number): void } {
  let now = T0;
  return { jar: new CookieJar({ now: () => now }), advance: (ms) => (now += ms) };
}

describe('CookieJar', () => {
  test('host-only cookies go back to the exact host; Domain cookies to the domain and its subdomains', () => {
    const { jar } = frozenJar();
    jar.set('http://auth.localhost/', 'host=1');
    jar.set('http://auth.localhost/', 'dom=2; Domain=.Localhost');
    jar.set('http://auth.localhost/', 'foreign=3; Domain=example.com'); // §5.3 step 6: ignored
    const cases = [
      { url: 'http://auth.localhost/x', want: 'host=1; dom=2' },
      { url: 'http://app.localhost/', want: 'dom=2' },
      { url: 'http://localhost/', want: 'dom=2' },
      { url: 'http://example.com/', want: '' },
      { url: 'http://evil-localhost/', want: '' },
    ];
    for (const c of cases) assert.equal(jar.header(c.url), c.want, c.url);
  });

  test('IP hosts match only exactly', () => {
    assert.equal(domainMatches('127.0.0.1', '127.0.0.1'), true);
    assert.equal(domainMatches('10.127.0.0.1', '0.0.1'), false);
    assert.equal(domainMatches('a.b.example', 'b.example'), true);
    assert.equal(domainMatches('ab.example', 'b.example'), false);
  });

  test('Path: default path from the request, prefix matching on / boundaries', () => {
    assert.equal(defaultPath('/a/b/c'), '/a/b');
    assert.equal(defaultPath('/a'), '/');
    assert.equal(defaultPath(''), '/');
    const { jar } = frozenJar();
    jar.set('http://h.localhost/a/b/c', 'dflt=1');
    jar.set('http://h.localhost/', 'scoped=2; Path=/interaction/abc');
    const cases = [
      { path: '/a/b', want: ['dflt'] },
      { path: '/a/b/x', want: ['dflt'] },
      { path: '/a/bc', want: [] },
      { path: '/interaction/abc/login', want: ['scoped'] },
      { path: '/interaction/abcd', want: [] },
      { path: '/', want: [] },
    ];
    for (const c of cases) {
      assert.deepEqual(jar.cookiesFor(`http://h.localhost${c.path}`).map((k) => k.name), c.want, c.path);
    }
    jar.set('http://h.localhost/x/y', 'rel=3; Path=relative'); // §5.2.4: not absolute, so the default path
    assert.equal(jar.all().find((k) => k.name === 'rel')?.path, '/x');
    assert.equal(pathMatches('/docs/', '/docs/'), true);
    assert.equal(pathMatches('/docs/x', '/docs/'), true);
  });

  test('longer paths first, then older cookies first; a replaced cookie keeps its place', () => {
    const { jar } = frozenJar();
    jar.set('http://h.localhost/', 'a=1; Path=/');
    jar.set('http://h.localhost/', 'b=2; Path=/deep/er');
    jar.set('http://h.localhost/', 'c=3; Path=/');
    jar.set('http://h.localhost/', 'a=9; Path=/');
    assert.equal(jar.header('http://h.localhost/deep/er/x'), 'b=2; a=9; c=3');
  });

  test('expiry: Max-Age beats Expires, zero or past deletes, a frozen clock decides', () => {
    const { jar, advance } = frozenJar();
    const future = new Date(T0 + 3600_000).toUTCString();
    const past = new Date(T0 - 1000).toUTCString();
    jar.set('http://h.localhost/', `short=1; Max-Age=10; Expires=${future}`);
    jar.set('http://h.localhost/', `long=1; Expires=${future}`);
    jar.set('http://h.localhost/', 'session=1');
    assert.equal(jar.header('http://h.localhost/'), 'short=1; long=1; session=1');
    advance(10_000);
    assert.equal(jar.header('http://h.localhost/'), 'long=1; session=1');
    jar.set('http://h.localhost/', `long=; Expires=${past}`);
    jar.set('http://h.localhost/', 'session=; Max-Age=0');
    assert.equal(jar.header('http://h.localhost/'), '');
    jar.set('http://h.localhost/', 'bad=1; Max-Age=soon');
    advance(365 * 24 * 3600_000);
    assert.equal(jar.get('bad'), '1', 'a malformed Max-Age is ignored (§5.2.2)');
  });

  test('Secure cookies: only from and to secure origins, loopback counting as secure', () => {
    const { jar } = frozenJar();
    jar.set('http://public.example/', 's1=1; Secure');
    jar.set('https://public.example/', 's2=1; Secure');
    jar.set('http://app.localhost/', 's3=1; Secure');
    assert.equal(jar.get('s1'), undefined);
    assert.equal(jar.header('https://public.example/'), 's2=1');
    assert.equal(jar.header('http://public.example/'), '');
    assert.equal(jar.header('http://app.localhost/'), 's3=1');
  });

  test('unusable Set-Cookie lines are ignored', () => {
    const { jar } = frozenJar();
    for (const line of ['', 'novalue', '=v', ' =v', ';', '; a=b']) {
      assert.equal(parseSetCookie(line, T0), undefined, JSON.stringify(line));
      jar.set('http://h.localhost/', line);
    }
    assert.deepEqual(jar.all(), []);
  });

  test('store() takes what a response carries: nothing, one line or many', () => {
    const { jar } = frozenJar();
    jar.store('http://h.localhost/', undefined);
    jar.store('http://h.localhost/', 'one=1; HttpOnly; SameSite=Lax');
    jar.store('http://h.localhost/', ['two=2', 'three=3=x']);
    assert.equal(jar.header('http://h.localhost/'), 'one=1; two=2; three=3=x');
    const one = jar.all().find((c) => c.name === 'one');
    assert.equal(one?.httpOnly, true);
    assert.equal(one?.sameSite, 'lax');
    jar.clear();
    assert.equal(jar.header('http://h.localhost/'), '');
  });
});
