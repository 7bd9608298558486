import type { Command } from './args.js';
import { serviceAccountCommands } from './service-account.js';
import { tokenCommand, tokenRevokeCommand } from './token.js';

/** CLI commands for accounts: stored service accounts and route-scoped tokens. */
export const accountsCommands: readonly Command[] = [...serviceAccountCommands, tokenCommand, tokenRevokeCommand];
