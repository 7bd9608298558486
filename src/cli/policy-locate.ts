/**
 * Config paths as the policy compiler writes them (`routes[2].policy[0]
 * .allow.or[1].claim/org.team`) back to a line and column of the YAML file,
 * for `limen policy check` and `limen policy explain`.
 */
import { CONFIG_YAML, CONFIG_YAML_VALUES, locateInYaml, yamlLibrary, type ConfigPath } from '../config/index.js';

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Splits a dotted path into keys and indexes, reading keys against the
 * document so a key that itself holds dots or slashes (`claim/org.team`,
 * `allowed_idp_claims.org.team`) stays one key: the longest key of the
 * mapping that the path continues with wins. Parts not in the document
 * are split at each `.`. `routes` reads as `policy` when the file uses
 * Pomerium's older name for the routes list.
 */
export function splitConfigPath(path: string, doc: unknown): ConfigPath {
  const out: (string | number)[] = [];
  let node: unknown = doc;
  let i = 0;
  while (i < path.length) {
    const ch = path[i];
    if (ch === '[') {
      const m = /^\[(\d+)\]/.exec(path.slice(i));
      if (m === null) break;
      const n = Number(m[1]);
      out.push(n);
      node = Array.isArray(node) ? node[n] : undefined;
      i += m[0].length;
      continue;
    }
    if (ch === '.') {
      i++;
      continue;
    }
    const rest = path.slice(i);
    let key: string | undefined;
    if (isMapping(node)) {
      for (const k of Object.keys(node)) {
        const next = rest[k.length];
        if (k.length > 0 && rest.startsWith(k) && (next === undefined || next === '.' || next === '[') && k.length > (key?.length ?? 0)) key = k;
      }
    }
    const consumed = key ?? /^[^.[]*/.exec(rest)![0];
    let stored = consumed;
    if (out.length === 0 && consumed === 'routes' && isMapping(node) && !Object.hasOwn(node, 'routes') && Object.hasOwn(node, 'policy')) stored = 'policy';
    out.push(stored);
    node = isMapping(node) && Object.hasOwn(node, stored) ? node[stored] : undefined;
    i += consumed.length;
  }
  return out;
}

/** Locates dotted config paths in one YAML text. */
export class ConfigLocator {
  private readonly doc: unknown;

  constructor(private readonly text: string) {
    let doc: unknown;
    try {
      doc = yamlLibrary().parse(text, { ...CONFIG_YAML, ...CONFIG_YAML_VALUES });
    } catch {
      doc = undefined;
    }
    this.doc = doc;
  }

  /** Line and column of the entry at `path` (its key, for a mapping entry), or of the nearest enclosing one. */
  position(path: string): { line: number; column: number } | undefined {
    if (this.doc === undefined) return undefined;
    return locateInYaml(this.text, splitConfigPath(path, this.doc), true);
  }

  /** `FILE:LINE:COLUMN`, or just `FILE` when the path is not in the text. */
  where(file: string, path: string): string {
    const p = this.position(path);
    return p ? `${file}:${p.line}:${p.column}` : file;
  }
}
