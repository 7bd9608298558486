/**
 * Builders of PolicyInput for the authz tests and the policy bench. Not part
 * of the public API (index.ts does not export it).
 */

import type { ClientCertificateInfo, DataRecord, IdentityInfo, PolicyInput, RequestInfo } from './types.js';

export function request(overrides: Partial<RequestInfo> = {}): RequestInfo {
  return {
    method: 'GET',
    host: 'app.example.com',
    path: '/',
    ip: '127.0.0.1',
    corsPreflight: false,
    clientCertificate: undefined,
    ...overrides,
  };
}

export function identity(overrides: Partial<IdentityInfo> = {}): IdentityInfo {
  return {
    user: 'u-123',
    email: 'ada@example.com',
    groups: [],
    claims: {},
    sessionId: 's-1',
    ...overrides,
  };
}

export function certificate(overrides: Partial<ClientCertificateInfo> = {}): ClientCertificateInfo {
  return {
    presented: true,
    valid: true,
    fingerprint: 'ab'.repeat(32),
    spkiHash: Buffer.alloc(32, 7).toString('base64'),
    sanEmail: [],
    sanDns: [],
    sanUri: [],
    ...overrides,
  };
}

/** An input with an identity unless `identity: null` is given. */
export function input(
  options: {
    request?: Partial<RequestInfo>;
    identity?: Partial<IdentityInfo> | null;
    records?: Readonly<Record<string, Readonly<Record<string, DataRecord>>>>;
  } = {},
): PolicyInput {
  const records = options.records;
  return {
    request: request(options.request),
    identity: options.identity === null ? null : identity(options.identity),
    ...(records === undefined
      ? {}
      : { records: (type: string, id: string) => (Object.hasOwn(records, type) ? records[type]![id] : undefined) }),
  };
}

/** A fixed instant: Monday 2026-01-05 10:00:00 UTC. */
export const MONDAY_10_UTC = Date.UTC(2026, 0, 5, 10, 0, 0);
