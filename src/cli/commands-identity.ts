import type { Command } from './args.js';

/** CLI commands for identity. */
export const identityCommands: readonly Command[] = [];
