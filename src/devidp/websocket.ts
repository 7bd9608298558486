/**
 * A minimal RFC 6455 WebSocket server side for the demo upstream: the opening
 * handshake and an echo of unfragmented text and binary messages, with ping,
 * pong and close handled. Enough to prove a proxy carries an upgrade, and no
 * more (no extensions, no fragmentation, 1 MiB message limit).
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

// RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key.
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 1024 * 1024;

/** Frame opcodes, RFC 6455 §5.2. */
export const Opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Close status codes used here, RFC 6455 §7.4.1. */
export const CloseCode = {
  normal: 1000,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidPayload: 1007,
  tooBig: 1009,
} as const;

/** `Sec-WebSocket-Accept` for a client key (RFC 6455 §4.2.2 step 5.4). */
export function acceptKey(clientKey: string): string {
  return createHash('sha1').update(clientKey + HANDSHAKE_GUID).digest('base64');
}

/** Why a handshake request is refused, or `undefined` when it is acceptable (RFC 6455 §4.2.1). */
export function checkHandshake(req: IncomingMessage): { status: number; reason: string } | undefined {
  if (req.method !== 'GET') return { status: 405, reason: 'websocket handshake must be GET' };
  const upgrade = (req.headers.upgrade ?? '').toLowerCase();
  if (!upgrade.split(',').some((t) => t.trim() === 'websocket')) return { status: 400, reason: 'Upgrade must be websocket' };
  const connection = (req.headers.connection ?? '').toLowerCase();
  if (!connection.split(',').some((t) => t.trim() === 'upgrade')) return { status: 400, reason: 'Connection must include Upgrade' };
  if (req.headers['sec-websocket-version'] !== '13') return { status: 426, reason: 'Sec-WebSocket-Version must be 13' };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return { status: 400, reason: 'Sec-WebSocket-Key must be 16 bytes, base64' };
  }
  return undefined;
}

/** A parsed frame; `payload` is already unmasked. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Reads one frame from the front of `buf`. Returns the frame and the bytes it
 * used, `undefined` when more bytes are needed, or a close code when the frame
 * is malformed or too big.
 */
export function readFrame(buf: Buffer, maxPayload = MAX_PAYLOAD): { frame: Frame; used: number } | number | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(maxPayload)) return CloseCode.tooBig;
    length = Number(big);
    offset = 10;
  }
  if (length > maxPayload) return CloseCode.tooBig;
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + length) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + length));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (buf[maskOffset + (i % 4)] ?? 0);
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x07, opcode: b0 & 0x0f, masked, payload },
    used: offset + length,
  };
}

/** Encodes one unmasked, final frame (servers never mask, RFC 6455 §5.1). */
export function encodeFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([0x80 | opcode, payload.length]);
  } else if (payload.length <= 0xffff) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([header, payload]);
}

function closeFrame(code: number, reason = ''): Buffer {
  const body = Buffer.alloc(2 + Buffer.byteLength(reason));
  body.writeUInt16BE(code, 0);
  body.write(reason, 2);
  return encodeFrame(Opcode.close, body);
}

// §7.4: codes an endpoint may put on the wire (1004-1006 and 1015 are reserved).
function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Completes the handshake on an upgraded socket and echoes messages until
 * either side closes. `greeting`, when given, is sent as the first text message.
 */
export function serveEchoWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, greeting?: string): void {
  const refused = checkHandshake(req);
  if (refused !== undefined) {
    const extra = refused.status === 426 ? 'Sec-WebSocket-Version: 13\r\n' : '';
    socket.end(
      `HTTP/1.1 ${refused.status} ${refused.status === 426 ? 'Upgrade Required' : refused.status === 405 ? 'Method Not Allowed' : 'Bad Request'}\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(refused.reason) + 1}\r\n` +
        `${extra}Connection: close\r\n\r\n${refused.reason}\n`,
    );
    return;
  }
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(req.headers['sec-websocket-key'] as string)}\r\n\r\n`,
  );
  if (greeting !== undefined) socket.write(encodeFrame(Opcode.text, Buffer.from(greeting)));

  let pending: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  let closing = false;
  const fail = (code: number, reason: string): void => {
    closing = true;
    socket.end(closeFrame(code, reason));
  };

  const onData = (chunk: Buffer): void => {
    if (closing) return;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      const read = readFrame(pending);
      if (read === undefined) return;
      if (typeof read === 'number') return fail(read, 'message too big');
      pending = pending.subarray(read.used);
      const { frame } = read;
      // §5.1: a client frame must be masked; §5.2: RSV bits need a negotiated extension.
      if (!frame.masked) return fail(CloseCode.protocolError, 'client frames must be masked');
      if (frame.rsv !== 0) return fail(CloseCode.protocolError, 'no extensions negotiated');
      const control = frame.opcode >= 0x8;
      // §5.5: control frames are final and carry at most 125 bytes.
      if (control && (!frame.fin || frame.payload.length > 125)) return fail(CloseCode.protocolError, 'bad control frame');
      switch (frame.opcode) {
        case Opcode.text:
        case Opcode.binary:
          if (!frame.fin) return fail(CloseCode.unsupportedData, 'fragmented messages are not supported');
          if (frame.opcode === Opcode.text) {
            try {
              utf8.decode(frame.payload);
            } catch {
              return fail(CloseCode.invalidPayload, 'text must be UTF-8'); // §8.1
            }
          }
          socket.write(encodeFrame(frame.opcode, frame.payload));
          break;
        case Opcode.ping:
          socket.write(encodeFrame(Opcode.pong, frame.payload));
          break;
        case Opcode.pong:
          break;
        case Opcode.close: {
          // §5.5.1: answer with a close frame (echoing the status code), then end.
          closing = true;
          const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : undefined;
          if (code === undefined) socket.end(encodeFrame(Opcode.close));
          else socket.end(closeFrame(isSendableCloseCode(code) ? code : CloseCode.protocolError));
          return;
        }
        case Opcode.continuation:
          return fail(CloseCode.unsupportedData, 'fragmented messages are not supported');
        default:
          return fail(CloseCode.protocolError, 'unknown opcode');
      }
    }
  };

  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  if (pending.length > 0) {
    const first = pending;
    pending = Buffer.alloc(0);
    onData(first);
  }
}
