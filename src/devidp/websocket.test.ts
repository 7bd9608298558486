import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startDemoUpstream, type DemoUpstream, type EchoReport } from './index.js';
import { acceptKey, CloseCode, encodeFrame, Opcode, readFrame } from './websocket.js';

let upstream: DemoUpstream;
let wsUrl: string;

before(async () => {
  upstream = await startDemoUpstream();
  wsUrl = `ws://127.0.0.1:${upstream.port}/ws`;
});

after(async () => {
  await upstream.close();
});

async function open(url = wsUrl, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  await once(ws, 'open');
  return ws;
}

async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once(ws, 'message') as Promise<[Buffer, boolean]>;
  ws.send(data);
  const [payload, isBinary] = await reply;
  return { data: payload, isBinary };
}

/** A client frame, masked as RFC 6455 §5.3 requires (or not, to test the refusal). */
function clientFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const server = encodeFrame(opcode, payload);
  const headerLength = server.length - payload.length;
  const header = Buffer.from(server.subarray(0, headerLength));
  header[0] = (fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode;
  if (!mask) return Buffer.concat([header, payload]);
  header[1] = (header[1] ?? 0) | 0x80;
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] ?? 0)));
  return Buffer.concat([header, key, masked]);
}

/** Opens a raw TCP connection and completes the handshake by hand. */
async function rawHandshake(): Promise<{ socket: Socket; rest: Buffer }> {
  const socket = connect(upstream.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let buf = Buffer.alloc(0);
  while (!buf.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n') + 4;
  assert.match(buf.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
  return { socket, rest: buf.subarray(end) };
}

async function readCloseCode(socket: Socket, rest: Buffer): Promise<number | undefined> {
  let buf = rest;
  const ended = once(socket, 'close');
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
  });
  await ended;
  const read = readFrame(buf);
  assert.ok(read !== undefined && typeof read !== 'number', 'a close frame arrived');
  assert.equal(read.frame.opcode, Opcode.close);
  return read.frame.payload.length >= 2 ? read.frame.payload.readUInt16BE(0) : undefined;
}

describe('demo upstream websocket', () => {
  test('Sec-WebSocket-Accept matches the RFC 6455 §1.3 example', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('echoes text and binary messages of every length encoding', async () => {
    const ws = await open();
    for (const size of [0, 1, 125, 126, 65_535, 65_536, 300_000]) {
      const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
      const echoedText = await roundTrip(ws, text);
      assert.equal(echoedText.isBinary, false, `text ${size}`);
      assert.equal(echoedText.data.toString('utf8'), text, `text ${size}`);
      const bytes = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff));
      const echoedBinary = await roundTrip(ws, bytes);
      assert.equal(echoedBinary.isBinary, true, `binary ${size}`);
      assert.ok(echoedBinary.data.equals(bytes), `binary ${size}`);
    }
    ws.close();
    await once(ws, 'close');
  });

  test('answers ping with pong and echoes the close code', async () => {
    const ws = await open();
    const pong = once(ws, 'pong') as Promise<[Buffer]>;
    ws.ping(Buffer.from('are you there'));
    assert.equal((await pong)[0].toString(), 'are you there');
    const closed = once(ws, 'close') as Promise<[number, Buffer]>;
    ws.close(4001, 'done');
    assert.equal((await closed)[0], 4001);
  });

  test('?hello=1 greets with the JSON echo of the upgrade request, identity headers included', async () => {
    const ws = new WebSocket(`${wsUrl}?hello=1`, {
      headers: { 'x-pomerium-jwt-assertion': `e30.${Buffer.from('{"email":"alice@example.com"}').toString('base64url')}.sig`, 'x-trace': 'abc' },
    });
    const [first] = (await once(ws, 'message')) as [Buffer];
    const echo = JSON.parse(first.toString()) as EchoReport;
    assert.equal(echo.url, '/ws?hello=1');
    assert.equal(echo.headers['x-trace'], 'abc');
    assert.equal(echo.headers.upgrade, 'websocket');
    assert.equal(echo.assertion?.email, 'alice@example.com');
    assert.equal((await roundTrip(ws, 'after greeting')).data.toString(), 'after greeting');
    ws.close();
    await once(ws, 'close');
  });

  test('refuses bad handshakes with the right status', async () => {
    const base = {
      Host: '127.0.0.1',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
    };
    const cases: { name: string; method?: string; path?: string; headers: Record<string, string | undefined>; status: number }[] = [
      { name: 'no key', headers: { ...base, 'Sec-WebSocket-Key': undefined }, status: 400 },
      { name: 'short key', headers: { ...base, 'Sec-WebSocket-Key': 'c2hvcnQ=' }, status: 400 },
      { name: 'old version', headers: { ...base, 'Sec-WebSocket-Version': '8' }, status: 426 },
      { name: 'Connection lists Upgrade among others', headers: { ...base, Connection: 'keep-alive, Upgrade' }, status: 101 },
      { name: 'POST', method: 'POST', headers: { ...base, 'Content-Length': '0' }, status: 405 },
      { name: 'other path', path: '/nope', headers: base, status: 404 },
    ];
    for (const c of cases) {
      const socket = connect(upstream.port, '127.0.0.1');
      await once(socket, 'connect');
      const lines = Object.entries(c.headers)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`${c.method ?? 'GET'} ${c.path ?? '/ws'} HTTP/1.1\r\n${lines}\r\n`);
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      const head = chunk.toString();
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${c.status} `), c.name);
      if (c.status === 426) assert.match(head, /Sec-WebSocket-Version: 13/);
      socket.destroy();
    }
  });

  test('closes with the RFC 6455 code for each protocol violation', async () => {
    const cases = [
      { name: 'unmasked client frame', frame: clientFrame(Opcode.text, Buffer.from('hi'), { mask: false }), code: CloseCode.protocolError },
      { name: 'RSV bit without extension', frame: clientFrame(Opcode.text, Buffer.from('hi'), { rsv: 4 }), code: CloseCode.protocolError },
      { name: 'fragmented message', frame: clientFrame(Opcode.text, Buffer.from('hi'), { fin: false }), code: CloseCode.unsupportedData },
      { name: 'stray continuation', frame: clientFrame(Opcode.continuation, Buffer.from('hi')), code: CloseCode.unsupportedData },
      { name: 'invalid UTF-8 text', frame: clientFrame(Opcode.text, Buffer.from([0xc3, 0x28])), code: CloseCode.invalidPayload },
      { name: 'oversized message', frame: clientFrame(Opcode.binary, Buffer.alloc(1024 * 1024 + 1)), code: CloseCode.tooBig },
      { name: 'long ping', frame: clientFrame(Opcode.ping, Buffer.alloc(126)), code: CloseCode.protocolError },
      { name: 'unknown opcode', frame: clientFrame(0x3, Buffer.from('?')), code: CloseCode.protocolError },
      { name: 'close with a reserved code', frame: clientFrame(Opcode.close, Buffer.from([0x03, 0xed])), code: CloseCode.protocolError },
    ];
    for (const c of cases) {
      const { socket, rest } = await rawHandshake();
      socket.write(c.frame);
      assert.equal(await readCloseCode(socket, rest), c.code, c.name);
    }
  });

  test('readFrame waits for a whole frame and reports sizes over the limit', () => {
    const frame = clientFrame(Opcode.text, Buffer.from('hello'));
    for (let cut = 0; cut < frame.length; cut++) assert.equal(readFrame(frame.subarray(0, cut)), undefined, `cut ${cut}`);
    const whole = readFrame(frame);
    assert.ok(whole !== undefined && typeof whole !== 'number');
    assert.equal(whole.used, frame.length);
    assert.equal(whole.frame.payload.toString(), 'hello');
    const huge = Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]); // 64-bit length 2^32
    assert.equal(readFrame(huge), CloseCode.tooBig);
  });
});
