import type { Command } from './args.js';

/** CLI commands for accounts. */
export const accountsCommands: readonly Command[] = [];
