/**
 * The composition root: starts Limen from a Config (store, audit log,
 * identifier with the account token resolvers and directory enrichment,
 * the admin API of src/web), owns the HTTP(S) server and the request
 * pipeline, swaps runtimes on reload, and supervises worker processes
 * (`workers`, issue 16). The embedded quickstart (./quickstart.js) is
 * imported on its own, when it runs: `limen serve --config` starts without
 * loading the development IdP.
 */
export { startLimen } from './limen.js';
export type { StartOptions, RunningLimen } from './limen.js';
export { isWorkerProcess, listenMode, restartDelay, runWorker, startPrimary, workerCount, WorkerStartError } from './workers.js';
export type { ListenMode, PrimaryOptions, RunningPrimary, WorkerOptions } from './workers.js';
export type { DevSecrets, Quickstart, QuickstartOptions, QuickstartParts } from './quickstart.js';
export { buildRuntime } from '../web/index.js';
export type { Runtime, RouteRuntime, Services } from '../web/index.js';
