import type { StartOptions } from '../server/index.js';

/**
 * Optional pieces the server is started with (service-account and
 * route-scoped token resolvers, directory enrichment), kept in one place so
 * `serve` and the quickstart start the same product.
 */
export const extensions: Pick<StartOptions, 'tokenResolvers' | 'enrich'> = {};
