import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEntities, parseAttributes, parseForms } from './html-form.js';

test('parseForms reads action, method and named inputs, decoding entities', () => {
  const html = `<html><body>
    <form id="devidp-login" method="post" action="/interaction/a&amp;b/login">
      <input id="email" name="email" type="email" required value="">
      <input name=groups value='x &quot;y&quot;'>
      <input type="submit">
      <input name="off" value="1" disabled>
    </form>
    <FORM data-autosubmit ACTION="https://idp.test/session/end/confirm"><input type="hidden" name="xsrf" value="abc"/></FORM>
    <form><input name="q"></form>
  </body></html>`;
  const forms = parseForms(html);
  assert.equal(forms.length, 3);
  assert.deepEqual(forms[0], {
    id: 'devidp-login',
    action: '/interaction/a&b/login',
    method: 'POST',
    attributes: { id: 'devidp-login', method: 'post', action: '/interaction/a&b/login' },
    fields: [
      ['email', ''],
      ['groups', 'x "y"'],
    ],
  });
  assert.ok('data-autosubmit' in (forms[1]?.attributes ?? {}));
  assert.equal(forms[1]?.method, 'GET', 'method defaults to GET');
  assert.deepEqual(forms[1]?.fields, [['xsrf', 'abc']]);
  assert.deepEqual(forms[2], { id: undefined, action: '', method: 'GET', attributes: {}, fields: [['q', '']] });
});

test('parseAttributes keeps the first of repeated attributes', () => {
  assert.deepEqual(parseAttributes(' a="1" A="2" b'), { a: '1', b: '' });
});

test('decodeEntities handles named, decimal and hex references and leaves unknown ones', () => {
  const cases: [string, string][] = [
    ['&lt;b&gt; &amp; &quot;q&quot; &#39;s&#39;', `<b> & "q" 's'`],
    ['&#x41;&#66;&#x1F600;', 'AB😀'],
    ['&unknown; &#xZZ; &', '&unknown; &#xZZ; &'],
    ['&#x110000;', '&#x110000;'],
  ];
  for (const [input, want] of cases) assert.equal(decodeEntities(input), want, input);
});
