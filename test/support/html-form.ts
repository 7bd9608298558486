/**
 * Just enough HTML form reading for scripted sign-in: find the forms on a page,
 * their action, method and named inputs. Regex-based, for the simple pages the
 * dev IdP, oidc-provider and Limen render; not a general HTML parser.
 */

export interface HtmlForm {
  id: string | undefined;
  /** Raw `action` attribute (entities decoded); `''` when absent. */
  action: string;
  /** Upper-case; `GET` when absent. */
  method: string;
  /** The form's own attributes, names lower-cased, entities decoded. */
  attributes: Record<string, string>;
  /** Named `<input>` fields in document order with their `value` (type, for checkboxes/buttons, ignored). */
  fields: [name: string, value: string][];
}

const FORM = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
const INPUT = /<input\b([^>]*)>/gi;
const ATTRIBUTE = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** Every `<form>` on the page. */
export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const [, attrText = '', inner = ''] of html.matchAll(FORM)) {
    const attributes = parseAttributes(attrText);
    const fields: [string, string][] = [];
    for (const [, inputAttrs = ''] of inner.matchAll(INPUT)) {
      const input = parseAttributes(inputAttrs);
      if (input.name === undefined || 'disabled' in input) continue;
      fields.push([input.name, input.value ?? '']);
    }
    forms.push({
      id: attributes.id,
      action: attributes.action ?? '',
      method: (attributes.method ?? 'GET').toUpperCase(),
      attributes,
      fields,
    });
  }
  return forms;
}

/** Attributes of one tag's attribute text, names lower-cased; a bare attribute maps to `''`. */
export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, name = '', dq, sq, bare] of text.matchAll(ATTRIBUTE)) {
    const key = name.toLowerCase();
    if (key in out) continue; // HTML: the first occurrence wins
    out[key] = decodeEntities(dq ?? sq ?? bare ?? '');
  }
  return out;
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes the character references a server-side HTML escaper produces. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isInteger(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}
