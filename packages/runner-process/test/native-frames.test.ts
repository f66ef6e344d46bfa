import { constants, endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import { decodeEvent, FrameReader } from '../src/native-spawn.js';

// The spawner writes integers in the machine's byte order (spawner.c).
const LE = endianness() === 'LE';
const u32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  if (LE) buffer.writeUInt32LE(value);
  else buffer.writeUInt32BE(value);
  return buffer;
};
const i32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  if (LE) buffer.writeInt32LE(value);
  else buffer.writeInt32BE(value);
  return buffer;
};
const frame = (type: number, id: number, ...payload: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), u32(id), ...payload]);
  return Buffer.concat([u32(body.length), body]);
};
const noFile = () => undefined;

describe('native spawner frames', () => {
  it('splits frames that arrive a byte at a time, or several in one read', () => {
    const stream = Buffer.concat([frame(1, 7, i32(4242)), frame(3, 7, Buffer.from([2]), Buffer.from('oops\n')), frame(5, 7)]);
    for (const chunks of [[...stream].map((byte) => Buffer.from([byte])), [stream], [stream.subarray(0, 11), stream.subarray(11)]]) {
      const seen: unknown[] = [];
      const reader = new FrameReader((bytes) => seen.push(decodeEvent(bytes, noFile)));
      for (const chunk of chunks) reader.push(chunk);
      expect(seen).toEqual([
        { type: 'spawned', id: 7, pid: 4242 },
        { type: 'output', id: 7, fd: 2, data: Buffer.from('oops\n') },
        { type: 'closed', id: 7 },
      ]);
    }
  });

  it('decodes exits as Node reports them: a code, or a signal name', () => {
    const decode = (bytes: Buffer) => decodeEvent(bytes.subarray(4), noFile);
    expect(decode(frame(4, 1, i32(3), i32(0)))).toEqual({ type: 'exit', id: 1, code: 3, signal: null });
    expect(decode(frame(4, 1, i32(-1), i32(constants.signals.SIGTERM)))).toEqual({ type: 'exit', id: 1, code: null, signal: 'SIGTERM' });
    expect(decode(frame(4, 1, i32(-1), i32(constants.signals.SIGABRT)))).toEqual({ type: 'exit', id: 1, code: null, signal: 'SIGABRT' });
  });

  it('names a start error by its errno code and file, as Node does', () => {
    const error = decodeEvent(frame(2, 9, i32(constants.errno.ENOENT)).subarray(4), (id) => (id === 9 ? 'python9' : undefined));
    expect(error).toEqual({ type: 'error', id: 9, code: 'ENOENT', message: 'spawn python9 ENOENT' });
    expect(() => decodeEvent(frame(42, 1).subarray(4), noFile)).toThrow('unknown event type 42 from the native process spawner');
  });
});
