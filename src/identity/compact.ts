/**
 * The compact serialization of a JWS (3 segments) or JWE (5), exactly as
 * RFC 7515/7516 write it: base64url segments without padding, whitespace or
 * any other character. jose's decoder skips whitespace inside a segment, so
 * without this check `a.b.c` and `a.b.\nc` would both verify: one token would
 * have many spellings, and anything keyed by the token's text (a cache, a log
 * search, a single-use list) could be told apart from the token it means.
 */
const SEGMENT = '[A-Za-z0-9_-]';
const JWS = new RegExp(`^${SEGMENT}+\\.${SEGMENT}*\\.${SEGMENT}+$`);
const JWE = new RegExp(`^${SEGMENT}+\\.${SEGMENT}*\\.${SEGMENT}+\\.${SEGMENT}+\\.${SEGMENT}+$`);

export function isCompactJws(token: string): boolean {
  return JWS.test(token);
}

export function isCompactJwe(token: string): boolean {
  return JWE.test(token);
}
