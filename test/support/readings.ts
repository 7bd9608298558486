/**
 * How common upstream frameworks read the path they receive. A request has
 * one meaning when every reading routes where Limen did (CONTRACT §7).
 */
export const UPSTREAM_READINGS: Readonly<Record<string, (path: string) => string>> = {
  'as sent': (p) => p,
  // nginx, Go's ServeMux, most routers: one percent-decoding, then dot segments and `//`.
  'decoded once': (p) => dotless(percentDecode(p)),
  // A stack that decodes twice (a decoding proxy in front of a decoding app).
  'decoded twice': (p) => dotless(percentDecode(percentDecode(p))),
  // Tomcat, Jetty, Spring: `;...` dropped from each segment before decoding.
  'path parameters dropped': (p) => dotless(percentDecode(p.split('/').map((s) => s.split(';')[0]).join('/'))),
  // IIS, Windows, WHATWG URL: `\` is a separator.
  'backslash as slash': (p) => dotless(percentDecode(p).replaceAll('\\', '/')),
};

/** Decodes every `%XX`, `%2F` included, one byte to one character. */
export function percentDecode(p: string): string {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Dot segments and empty segments resolved as servers resolve them. */
export function dotless(p: string): string {
  const out: string[] = [];
  const segs = p.split('/');
  segs.forEach((s, i) => {
    if (s === '..') out.pop();
    else if (s !== '.' && (s !== '' || i === segs.length - 1)) out.push(s);
  });
  return `/${out.join('/')}`;
}
