/**
 * What a row of the global key table knows besides its spec: shared by the
 * table (globals.ts) and the key groups it spreads in (observability.ts,
 * autocert.ts), so those depend on this file and not on the table.
 */
import type { ConfigWarning } from './types.js';

/**
 * How the upper-case environment variable is read: `text` as the string
 * (lists are comma-separated, booleans `true`/`false`), `map` as JSON or
 * `k=v,k2=v2`, `baggage` as `map` with keys and values percent-decoded (the
 * W3C Baggage form the OpenTelemetry variables use), `json` as JSON, `none`
 * not at all.
 */
export type EnvForm = 'text' | 'map' | 'baggage' | 'json' | 'none';

export interface GlobalContext {
  readonly devMode: boolean;
  /** Reads files that keys name (a route's `tls_custom_ca_file`). */
  readonly readFile: (path: string) => string;
  /** Receives each ignored key's warning. */
  readonly warn: (warning: ConfigWarning) => void;
}

/** Extra facts about a global row that the table type does not carry. */
export interface GlobalKeyTraits {
  readonly env: EnvForm;
  /** Never echoed in errors; also readable from a `<key>_file` YAML key. */
  readonly secret?: boolean;
  /** No `NAME_FILE` environment form (it would be another key's variable: `CERTIFICATE_FILE`). */
  readonly noFileVariant?: boolean;
}
