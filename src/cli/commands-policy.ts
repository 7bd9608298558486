import type { Command } from './args.js';

/** CLI commands for policy. */
export const policyCommands: readonly Command[] = [];
