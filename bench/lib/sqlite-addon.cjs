/**
 * Preloaded (`--require`) into a benchmark child that runs on another Node.js
 * line than node_modules was built for (`npm run bench -- --node 24`): makes
 * better-sqlite3 load the native module built for this line's ABI (path in
 * LIMEN_BENCH_SQLITE_ADDON, from scripts/node-line.sh's cache) instead of the
 * one in node_modules. Worker threads inherit `--require`, so the audit
 * writer's thread gets the same module.
 */
'use strict';
const addon = process.env.LIMEN_BENCH_SQLITE_ADDON;
if (addon) {
  const Module = require('node:module');
  const fromSqlite = Module.createRequire(require.resolve('better-sqlite3/package.json', { paths: [process.cwd()] }));
  const bindingsPath = fromSqlite.resolve('bindings');
  const m = new Module(bindingsPath);
  m.filename = bindingsPath;
  m.loaded = true;
  m.exports = function bindings(name) {
    if (name !== 'better_sqlite3.node') throw new Error(`sqlite-addon preload: unexpected native module ${name}`);
    return require(addon);
  };
  require.cache[bindingsPath] = m;
}
