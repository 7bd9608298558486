import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/index.js';
import { configChanges } from './reload.js';

const base = {
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
  idp_client_secret: 'OldClientSecret',
};
const route = (name: string, extra: Record<string, unknown> = {}) => ({ name, from: `http://${name}.localhost`, to: 'http://127.0.0.1:1', allow_public_unauthenticated_access: true, ...extra });

describe('what a reload changes, by name', () => {
  const cases: { name: string; before: Record<string, unknown>; after: Record<string, unknown>; want: ReturnType<typeof configChanges> }[] = [
    { name: 'nothing', before: { routes: [route('a')] }, after: { routes: [route('a')] }, want: { keys: [], routesAdded: [], routesRemoved: [], routesChanged: [] } },
    { name: 'a secret and a timeout', before: {}, after: { idp_client_secret: 'NewClientSecret', default_upstream_timeout: '45s' },
      want: { keys: ['idp_client_secret', 'default_upstream_timeout'], routesAdded: [], routesRemoved: [], routesChanged: [] } },
    { name: 'routes added, removed, changed; one moved is not changed', before: { routes: [route('a'), route('b'), route('c')] },
      after: { routes: [route('c'), route('b', { prefix: '/x' }), route('d')] },
      want: { keys: [], routesAdded: ['d'], routesRemoved: ['a'], routesChanged: ['b'] } },
    { name: 'a repeated name counts its occurrences', before: { routes: [route('a')] }, after: { routes: [route('a'), route('a', { prefix: '/y' })] },
      want: { keys: [], routesAdded: ['a (2)'], routesRemoved: [], routesChanged: [] } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = configChanges(parseConfig({ ...base, ...c.before }, {}), parseConfig({ ...base, ...c.after }, {}));
      assert.deepEqual({ ...got, keys: [...got.keys].sort() }, { ...c.want, keys: [...c.want.keys].sort() });
      assert.ok(!JSON.stringify(got).includes('ClientSecret'), 'names only, never a value');
    });
  }
});
