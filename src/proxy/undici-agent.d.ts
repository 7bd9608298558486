/**
 * undici's Agent module on its own. `undici`'s index also loads fetch,
 * WebSocket, the cache and the mocks, which Limen never uses: a tenth of
 * `limen serve`'s start-up. The same class (test/startup-imports.test.ts checks it).
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici';
  export default Agent;
}

/**
 * undici's header name helper: a known field name's lower-case form looked
 * up from its bytes (no string made for it), what undici's own header
 * parsing uses.
 */
declare module 'undici/lib/core/util.js' {
  export function headerNameToString(value: Buffer | string): string;
}
