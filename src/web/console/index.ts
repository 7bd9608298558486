/**
 * The admin console (issue 14): server-rendered pages at `/.pomerium/admin/`
 * on the authenticate host, for administrators only, every change a
 * CSRF-checked form POST recorded in the audit trail with the administrator
 * as its actor. `gate.ts` decides who passes, `routes.ts` is the one table
 * of every page and change, `operations.ts` the one door to the domain.
 */
export { handleConsole, consoleRoutes } from './routes.js';
export { CONSOLE_BASE, CONSOLE_CSP } from './layout.js';
export type { ConsoleRoute } from './gate.js';
