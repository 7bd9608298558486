/**
 * Pomerium's header templates in `set_request_headers` values: `$$` is a
 * `$`; `$pomerium.jwt` and `${pomerium.jwt}` (spaces allowed inside the
 * braces, `["name"]` as a selector) are variables, rendered per request;
 * a variable Limen does not know renders as nothing, as in Pomerium; a `$`
 * that starts no variable is kept as it is.
 *
 * Variables: `pomerium.jwt` (the signed identity assertion),
 * `pomerium.id_token` and `pomerium.access_token` (the signed-in user's IdP
 * tokens), `pomerium.client_cert_fingerprint` (SHA-256 of the client
 * certificate), `pomerium.request.headers.<name>` (a request header).
 */

/** A value cut into text and variable references (each a path: `['pomerium', 'jwt']`). */
export type HeaderTemplate = readonly (string | readonly string[])[];

/** What a request offers the templates ('' for what it does not have). */
export interface TemplateValues {
  readonly jwt: string;
  readonly idToken: string;
  readonly accessToken: string;
  readonly clientCertFingerprint: string;
  /** A request header by lower-case name, repeated values joined with `, `. */
  requestHeader(name: string): string;
}

const IDENT = /[A-Za-z0-9_][A-Za-z0-9_-]*/y;
const SPACES = /[ \t]*/y;

/** The template of a value, or undefined when it has no `$` (sent as it is). */
export function parseHeaderTemplate(src: string): HeaderTemplate | undefined {
  if (!src.includes('$')) return undefined;
  const parts: (string | readonly string[])[] = [];
  let text = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c !== '$') { text += c; i++; continue; }
    if (src[i + 1] === '$') { text += '$'; i += 2; continue; }
    const v = src[i + 1] === '{' ? braced(src, i + 2) : simple(src, i + 1);
    if (v === undefined) { text += '$'; i++; continue; }
    if (text !== '') parts.push(text);
    text = '';
    parts.push(v.ref);
    i = v.end;
  }
  if (text !== '') parts.push(text);
  return parts;
}

function identAt(src: string, at: number): { name: string; end: number } | undefined {
  IDENT.lastIndex = at;
  const m = IDENT.exec(src);
  return m === null ? undefined : { name: m[0], end: IDENT.lastIndex };
}

function skipSpaces(src: string, at: number): number {
  SPACES.lastIndex = at;
  SPACES.exec(src);
  return SPACES.lastIndex;
}

/** `pomerium.jwt` after a `$`. */
function simple(src: string, at: number): { ref: string[]; end: number } | undefined {
  const first = identAt(src, at);
  if (first === undefined) return undefined;
  const ref = [first.name];
  let end = first.end;
  for (;;) {
    if (src[end] !== '.') break;
    const next = identAt(src, end + 1);
    if (next === undefined) break;
    ref.push(next.name);
    end = next.end;
  }
  return { ref, end };
}

/** `{ pomerium . request . headers [ "X-Name" ] }` after a `$`. */
function braced(src: string, at: number): { ref: string[]; end: number } | undefined {
  let i = skipSpaces(src, at);
  const first = identAt(src, i);
  if (first === undefined) return undefined;
  const ref = [first.name];
  i = skipSpaces(src, first.end);
  for (;;) {
    if (src[i] === '.') {
      const next = identAt(src, skipSpaces(src, i + 1));
      if (next === undefined) return undefined;
      ref.push(next.name);
      i = skipSpaces(src, next.end);
    } else if (src[i] === '[') {
      const str = stringAt(src, skipSpaces(src, i + 1));
      if (str === undefined) return undefined;
      const close = skipSpaces(src, str.end);
      if (src[close] !== ']') return undefined;
      ref.push(str.value);
      i = skipSpaces(src, close + 1);
    } else {
      break;
    }
  }
  return src[i] === '}' ? { ref, end: i + 1 } : undefined;
}

/** A `"..."` literal (a backslash escapes the next character). */
function stringAt(src: string, at: number): { value: string; end: number } | undefined {
  if (src[at] !== '"') return undefined;
  let value = '';
  for (let i = at + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\' && i + 1 < src.length) { value += src[++i]; continue; }
    if (c === '"') return { value, end: i + 1 };
    value += c;
  }
  return undefined;
}

/** The value for this request. A rendered value never holds a line break (a header could be split). */
export function renderHeaderTemplate(t: HeaderTemplate, values: TemplateValues | undefined): string {
  let out = '';
  for (const part of t) out += typeof part === 'string' ? part : variable(part, values);
  return out.replace(/[\r\n]/g, '');
}

function variable(ref: readonly string[], v: TemplateValues | undefined): string {
  if (v === undefined || ref[0] !== 'pomerium') return '';
  if (ref.length === 2) {
    switch (ref[1]) {
      case 'jwt': return v.jwt;
      case 'id_token': return v.idToken;
      case 'access_token': return v.accessToken;
      case 'client_cert_fingerprint': return v.clientCertFingerprint;
      default: return '';
    }
  }
  if (ref.length === 4 && ref[1] === 'request' && ref[2] === 'headers') return v.requestHeader(ref[3]!.toLowerCase());
  return '';
}
