import type { Command } from './args.js';

/** CLI commands for directory. */
export const directoryCommands: readonly Command[] = [];
