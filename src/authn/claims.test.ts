import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EmailVerification } from '../config/index.js';
import { applyEmailVerification, emailVerifiedClaim } from './claims.js';

test('emailVerifiedClaim: booleans, and the strings some IdPs send', () => {
  const cases: [unknown, boolean | undefined][] = [
    [true, true], [false, false], ['true', true], ['FALSE', false], [' false ', false],
    [undefined, undefined], [null, undefined], ['yes', undefined], [1, undefined], [0, undefined], [[], undefined],
  ];
  for (const [v, want] of cases) assert.equal(emailVerifiedClaim({ email_verified: v }), want, JSON.stringify(v));
});

test('applyEmailVerification: which email is used in each mode', () => {
  const email = 'admin@example.com';
  const claims = (verified: unknown): Record<string, unknown> => (verified === 'absent' ? { sub: 's', email } : { sub: 's', email, email_verified: verified });
  const table: { mode: EmailVerification; verified: unknown; want: string }[] = [
    { mode: 'reject_unverified', verified: true, want: email },
    { mode: 'reject_unverified', verified: 'absent', want: email },
    { mode: 'reject_unverified', verified: false, want: '' },
    { mode: 'reject_unverified', verified: 'false', want: '' },
    { mode: 'require_verified', verified: true, want: email },
    { mode: 'require_verified', verified: 'true', want: email },
    { mode: 'require_verified', verified: 'absent', want: '' },
    { mode: 'require_verified', verified: false, want: '' },
    { mode: 'require_verified', verified: 'maybe', want: '' },
    { mode: 'trust_idp', verified: false, want: email },
    { mode: 'trust_idp', verified: 'absent', want: email },
  ];
  for (const t of table) {
    const out = applyEmailVerification(claims(t.verified), t.mode);
    assert.equal(out.email, t.want, `${t.mode} ${String(t.verified)}`);
    if (t.verified !== 'absent') assert.equal(out.email_verified, t.verified, 'email_verified is kept as sent');
  }
  // No email at all stays absent; nothing else changes.
  assert.deepEqual(applyEmailVerification({ sub: 's', email_verified: false }, 'reject_unverified'), { sub: 's', email_verified: false });
});
