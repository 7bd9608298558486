/**
 * The quick way to read a config file's YAML, for start-up and reloads:
 * `js-yaml` builds the plain values straight from the parser's events, five
 * times faster than `yaml`, which keeps a document of nodes with their
 * source ranges (a 1000-route file: about 60 ms against 340 ms on a cold
 * process, and `yaml`'s heavier import besides). `yaml` stays the reference
 * and the only parser for anything that needs a line: a syntax error, a key
 * or value the config refuses, a warning (file.ts falls back to it then).
 *
 * The quick path answers only where the two parsers are known to agree
 * (YAML 1.2 core schema, duplicate keys refused; checked
 * by a differential property test against `yaml`, yaml-quick.fuzz.test.ts) and
 * declines the rest, which then goes through `yaml` as before:
 * - anchors: an alias is where `yaml` bounds the cost of expansion
 *   (`maxAliasCount`), and `js-yaml` would hand over a shared graph whose
 *   walk can grow exponentially;
 * - tags (`!`, `!!`) and directives (`%YAML`, `%TAG`): schemas differ there;
 * - tabs and carriage returns, document markers and byte-order marks:
 *   where the two parsers' error reporting is known to differ;
 * - lines of spaces only, and block scalars with an indentation indicator
 *   (`|2`): the parsers keep different trailing lines of such a scalar;
 * - a line ending in a backslash (an escaped line break in a double-quoted
 *   string): the parsers fold the empty lines after it differently;
 * - numbers beyond a double's range (`1e309`, 300 digits): `yaml` makes
 *   them Infinity or 0, `js-yaml` keeps the text;
 * - merge keys (`<<`): a merged value can hide, behind a key that
 *   overrides it, what `yaml` refuses (a key that is not a string), found
 *   by the fuzz test;
 * - anything `js-yaml` itself refuses.
 * Declining is always safe: it only costs the time saved.
 */
import { CORE_SCHEMA, load, mergeTag, realMapTag } from 'js-yaml';

// Mappings as Maps, so a key that is not a string (`1:`, `null:`, `true:`)
// can be seen and declined: the two parsers turn such keys into different
// property names.
const SCHEMA = CORE_SCHEMA.withTags(mergeTag, realMapTag);

/**
 * What sends a text to the full parser: an anchor, a tag or an explicit
 * key where a node can start (`&a`, `!t`, `!!str`, `? k` after a space, an
 * indicator or a line start), a directive or document marker at a line
 * start, a tab, a CR, a BOM, a line of spaces only, a block scalar's
 * indentation indicator, a three-digit exponent or 300 digits in a row, a
 * backslash at a line end, a merge key (`<<:`). Inside a plain scalar (`a&b`, `x!`) the first
 * ones do not match; inside a quoted string after a space they do, which
 * only makes that text slower to read.
 */
const DECLINE = /(?:^|[\s[\]{},:?-])[&!?]|^(?:%|---|\.\.\.)|[\t\r\uFEFF]|^ +$|[|>][-+]?[0-9]|[0-9.][eE][-+]?[0-9]{3}|[0-9]{300}|\\$|<<[ ]*:/m;

/** The plain value of `text`, or undefined when `yaml` must read it (see the module comment). */
export function quickYaml(text: string): unknown {
  if (DECLINE.test(text)) return undefined;
  let value: unknown;
  try {
    value = load(text, { schema: SCHEMA, maxAliases: 0 });
  } catch {
    return undefined;
  }
  const out = toPlain(value);
  return out === DECLINED ? undefined : out;
}

const DECLINED = Symbol('declined');

/** Maps as plain objects (as `yaml`'s toJS makes them), or DECLINED when a key is not a string. */
function toPlain(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = toPlain(value[i]);
      if (v === DECLINED) return DECLINED;
      out[i] = v;
    }
    return out;
  }
  if (!(value instanceof Map)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, raw] of value) {
    if (typeof k !== 'string') return DECLINED;
    const v = toPlain(raw);
    if (v === DECLINED) return DECLINED;
    // A key named __proto__ is data, never the object's prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, writable: true, enumerable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}
