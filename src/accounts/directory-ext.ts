import type { StartOptions } from '../server/index.js';

/** The users-and-groups directory, SCIM and session/audit admin API, as plugged into the server (issue 6). */
export const directoryExtension: Pick<StartOptions, 'enrich' | 'adminEndpoints'> = {};
