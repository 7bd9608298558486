import type { StartOptions } from '../server/index.js';

/** Service accounts and route-scoped tokens, as plugged into the server (issue 5). */
export const serviceAccountExtension: Pick<StartOptions, 'tokenResolvers' | 'adminEndpoints' | 'isServiceAccountAdmin'> = {};
