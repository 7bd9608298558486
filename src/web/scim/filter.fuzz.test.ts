/**
 * Fuzzing the SCIM filter parser (RFC 7644 §3.4.2.2, the `attr eq "value"`
 * form identity providers send): any text is a filter on an allowed
 * attribute or a 400 `invalidFilter`, and every value round-trips through
 * its JSON string form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzSync, mutatedString } from '../../../test/support/fuzz.js';
import { parseScimFilter } from './protocol.js';

const ALLOWED = ['userName', 'externalId', 'id', 'emails.value'];

function parsed(text: string): { attr: string; value: string } | { status: number; scimType: string } {
  try {
    return parseScimFilter(text, ALLOWED);
  } catch (e) {
    const err = e as { status?: unknown; scimType?: unknown };
    assert.ok(err.status === 400 && err.scimType === 'invalidFilter', `not a SCIM filter error: ${String(e)}`);
    return { status: 400, scimType: 'invalidFilter' };
  }
}

test('SCIM filters: any text is a filter on an allowed attribute or invalidFilter', () => {
  const seeds = ['userName eq "dana@example.com"', 'externalId eq "okta-00u1"', 'emails.value eq "a\\"b@c.d"', 'id eq "\\u0041\\n"', 'name.familyName co "x"', 'userName eq "x" and id eq "y"'];
  fuzzSync('scim-filter', 3000, [fc.oneof(mutatedString(...seeds), fc.string({ maxLength: 40 }))], (text) => {
    const r = parsed(text);
    if ('attr' in r) {
      assert.ok(ALLOWED.includes(r.attr));
      assert.equal(typeof r.value, 'string');
    }
  });
});

test('SCIM filters: a value written as a JSON string reads back unchanged, attribute names case-insensitively', () => {
  fuzzSync('scim-filter-roundtrip', 2000, [fc.constantFrom(...ALLOWED), fc.string({ unit: 'binary', maxLength: 30 }), fc.boolean()], (attr, value, upper) => {
    const r = parsed(`${upper ? attr.toUpperCase() : attr} eq ${JSON.stringify(value)}`);
    assert.deepEqual(r, { attr, value });
  });
});
