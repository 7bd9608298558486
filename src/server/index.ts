/**
 * The composition root: builds the runtime from a Config (routes, compiled
 * policies, keys, IdP client), owns the HTTP(S) server and the request
 * pipeline, swaps runtimes on reload, runs the embedded quickstart, and
 * supervises worker processes (`workers`, issue 16).
 */
export { startLimen } from './limen.js';
export type { StartOptions, RunningLimen } from './limen.js';
export { quickstartDocument, startQuickstart } from './quickstart.js';
export { isWorkerProcess, listenMode, restartDelay, runWorker, startPrimary, workerCount, WorkerStartError } from './workers.js';
export type { ListenMode, PrimaryOptions, RunningPrimary, WorkerOptions } from './workers.js';
export type { DevSecrets, Quickstart, QuickstartOptions, QuickstartParts } from './quickstart.js';
export { buildRuntime } from './runtime.js';
export type { Runtime, RouteRuntime } from './runtime.js';
export type { Services } from './context.js';
export { isAdministrator } from './dashboard.js';
export { readJson } from './admin.js';
export type { AdminEndpoint } from './admin.js';
export { fail } from './context.js';
export type { RequestContext } from './context.js';
