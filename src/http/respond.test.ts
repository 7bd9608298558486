import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FAVICON_HREF, PAGE_CSP, errorResponseBytes, htmlLayout, renderActions, shownValue } from './respond.js';

describe('Limen page layout', () => {
  test('the CSP allows exactly the stylesheet the layout inlines, no script, images only as data: URLs', () => {
    const page = htmlLayout('T', '<p>x</p>');
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1];
    assert.ok(style);
    const hash = createHash('sha256').update(style).digest('base64');
    assert.match(PAGE_CSP, new RegExp(`style-src 'sha256-${hash.replace(/[+/=]/g, (c) => `\\${c}`)}'`));
    assert.match(PAGE_CSP, /default-src 'none'/);
    assert.match(PAGE_CSP, /img-src data:/);
    assert.doesNotMatch(PAGE_CSP, /unsafe|script-src/);
    assert.doesNotMatch(page, /<script|\sstyle="|\son[a-z]+=/i, 'no script, no inline style attribute, no event handler');
  });

  test('every page declares its icon as a data: URL (browsers then ask no route for /favicon.ico)', () => {
    const page = htmlLayout('T', '');
    assert.ok(FAVICON_HREF.startsWith('data:image/svg+xml,'));
    assert.equal((page.match(/<link rel="icon" href="data:image\/svg\+xml,[^"]+">/g) ?? []).length, 1);
  });

  test('error pages (also the raw ones for unparsable requests) carry the CSP', () => {
    const raw = errorResponseBytes({ status: 400, title: 'Bad Request', message: 'm', requestId: 'r' }, 'GET / HTTP/1.1\r\naccept: text/html\r\n');
    assert.match(raw, new RegExp(`\r\ncontent-security-policy: ${PAGE_CSP.replace(/[+/=().*]/g, (c) => `\\${c}`)}\r\n`));
  });

  test('pages are same-origin for Referer (so their form posts carry a real Origin); JSON keeps no-referrer', () => {
    const page = { status: 403, title: 'Forbidden', message: 'm', requestId: 'r' };
    assert.match(errorResponseBytes(page, 'GET / HTTP/1.1\r\naccept: text/html\r\n'), /\r\nreferrer-policy: same-origin\r\n/);
    assert.match(errorResponseBytes(page, 'GET / HTTP/1.1\r\naccept: application/json\r\n'), /\r\nreferrer-policy: no-referrer\r\n/);
  });

  test('an empty detail reads "none" on the page and is left out of the JSON', () => {
    const page = { status: 403, title: 'Forbidden', message: 'm', requestId: 'r', details: { route: 'r1', email: '', groups: '' } };
    const html = errorResponseBytes(page, 'GET / HTTP/1.1\r\naccept: text/html\r\n');
    assert.match(html, /<dt>Email<\/dt><dd><span class="none">none<\/span><\/dd><dt>Groups<\/dt><dd><span class="none">none<\/span><\/dd>/);
    const json = errorResponseBytes(page, 'GET / HTTP/1.1\r\naccept: application/json\r\n');
    assert.deepEqual(JSON.parse(json.slice(json.indexOf('\r\n\r\n') + 4)).details, { route: 'r1' });
  });

  test('shownValue and renderActions escape what they show', () => {
    for (const [value, want] of [['', '<span class="none">none</span>'], ['a<b>"', 'a&lt;b&gt;&quot;'], [undefined, '<span class="none">none</span>']] as const) {
      assert.equal(shownValue(value), want);
    }
    assert.equal(renderActions([]), '');
    const html = renderActions([
      { label: 'Go <there>', href: '/x?a=1&b="2"' },
      { label: 'Do', action: '/.pomerium/sign_out', fields: { csrf: 't"<' }, id: 'sign-out' },
    ]);
    assert.equal(html, '<ul class="actions"><li><a href="/x?a=1&amp;b=&quot;2&quot;">Go &lt;there&gt;</a></li>'
      + '<li><form method="post" action="/.pomerium/sign_out" id="sign-out"><input type="hidden" name="csrf" value="t&quot;&lt;"><button type="submit">Do</button></form></li></ul>');
  });
});
