/**
 * The one reader of request bodies: a content type it accepts and at most
 * `maxBytes`, or a reason it would not read one. Every handler that reads a
 * body (the admin API, SCIM, data loads, Limen's own forms) goes through
 * here, so a body is always bounded and a handler never acts on one it did
 * not fully read. Never quotes the body back.
 */
import type { IncomingMessage } from 'node:http';

/** Why a body was not read: the wrong content type, or larger than allowed. */
export type BodyRefusal = 'unsupported-media-type' | 'body-too-large';

/** The body's bytes, or why they were not read. */
export type BoundedBody = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly refused: BodyRefusal };

/**
 * Reads the body when `Content-Type` matches `accepts`; refuses one that a
 * declared `Content-Length` or the bytes that arrive show to be larger than
 * `maxBytes`.
 */
export async function readBoundedBody(req: IncomingMessage, maxBytes: number, accepts: RegExp): Promise<BoundedBody> {
  if (!accepts.test(req.headers['content-type'] ?? '')) return { ok: false, refused: 'unsupported-media-type' };
  if (Number(req.headers['content-length'] ?? '0') > maxBytes) return { ok: false, refused: 'body-too-large' };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return { ok: false, refused: 'body-too-large' };
    chunks.push(chunk as Buffer);
  }
  return { ok: true, bytes: Buffer.concat(chunks) };
}

/** JSON media types: `application/json` and `application/<anything>+json`. */
export const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;
const FORM_MEDIA_TYPE = /^application\/x-www-form-urlencoded/i;

/** A JSON body, `undefined` when it does not parse, or why it was not read. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number, accepts: RegExp = JSON_MEDIA_TYPE): Promise<{ readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly refused: BodyRefusal | 'json-invalid' }> {
  const body = await readBoundedBody(req, maxBytes, accepts);
  if (!body.ok) return body;
  try {
    return { ok: true, value: JSON.parse(body.bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false, refused: 'json-invalid' };
  }
}

/**
 * Reads an `application/x-www-form-urlencoded` body of at most `maxBytes`.
 * Undefined for any other content type or a larger body (the caller answers 400).
 */
export async function readUrlEncodedForm(req: IncomingMessage, maxBytes: number): Promise<URLSearchParams | undefined> {
  const body = await readBoundedBody(req, maxBytes, FORM_MEDIA_TYPE);
  return body.ok ? new URLSearchParams(body.bytes.toString('utf8')) : undefined;
}
