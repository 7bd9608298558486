import type { Command } from './args.js';
import { dataLoadCommand } from './data-load.js';
import { policyCheckCommand } from './policy-check.js';
import { policyExplainCommand } from './policy-explain.js';
import { policyTestCommand } from './policy-test.js';

/** CLI commands for policy: check, explain and test policies; load external data for them. */
export const policyCommands: readonly Command[] = [policyCheckCommand, policyExplainCommand, policyTestCommand, dataLoadCommand];
