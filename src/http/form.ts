import type { IncomingMessage } from 'node:http';

/**
 * Reads an `application/x-www-form-urlencoded` body of at most `maxBytes`.
 * Undefined for any other content type or a larger body (the caller answers
 * 400), so a form handler never acts on a body it did not fully read.
 */
export async function readUrlEncodedForm(req: IncomingMessage, maxBytes: number): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
