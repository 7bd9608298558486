import type { StartOptions } from '../server/index.js';
import type { Caller } from '../authn/index.js';
import { serviceAccountExtension } from '../accounts/service-accounts-ext.js';
import { directoryExtension } from '../accounts/directory-ext.js';
import { dataExtension } from '../records/admin.js';

type Extension = Pick<StartOptions, 'tokenResolvers' | 'enrich' | 'adminEndpoints' | 'isServiceAccountAdmin'>;

/**
 * Optional pieces the server is started with (service-account and
 * route-scoped token resolvers, directory enrichment, admin API), kept in
 * one place so `serve`, the quickstart and the tests start the same product.
 */
export const extensions: Extension = combine([serviceAccountExtension, directoryExtension, dataExtension]);

function combine(parts: readonly Extension[]): Extension {
  return {
    tokenResolvers: (svc, rt) => parts.flatMap((p) => p.tokenResolvers?.(svc, rt) ?? []),
    adminEndpoints: (svc, rt) => parts.flatMap((p) => p.adminEndpoints?.(svc, rt) ?? []),
    isServiceAccountAdmin: (c: Caller) => parts.some((p) => p.isServiceAccountAdmin?.(c) === true),
    enrich: (svc) => {
      const enrichers = parts.flatMap((p) => (p.enrich ? [p.enrich(svc)] : []));
      return async (id, how) => {
        let out = id;
        for (const e of enrichers) out = await e(out, how);
        return out;
      };
    },
  };
}
