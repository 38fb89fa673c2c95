import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Frontend, Startup } from '../../src/proxy/codes.js';
import { FrameParser, type FrameParserOptions } from '../../src/proxy/frame-parser.js';
import { bind, cancelRequest, execute, message, parse, query, sslRequest, startupMessage, sync, terminate } from './wire.js';

type Frame = [code: number, bodyHex: string];

function frames(chunks: Buffer[], options: FrameParserOptions = { startup: true }): { frames: Frame[]; parser: FrameParser } {
  const out: Frame[] = [];
  const parser = new FrameParser((code, body) => out.push([code, body.toString('hex')]), options);
  for (const c of chunks) parser.feed(c);
  return { frames: out, parser };
}

/** A client stream: SSLRequest, StartupMessage, then extended and simple protocol, COPY data, a big message. */
const stream = Buffer.concat([
  sslRequest(),
  startupMessage({ user: 'alice', database: 'shop', application_name: 'app' }),
  message('p', Buffer.from('secret\0')),
  parse('s1', 'select $1::int', [23]),
  bind('', 's1', ['42']),
  execute(),
  sync(),
  query('copy t from stdin'),
  message('d', Buffer.alloc(3000, 0x61)),
  message('c'),
  query('select 1; select 2'),
  terminate(),
]);

const whole = frames([stream]).frames;

describe('FrameParser', () => {
  it('hands bodiless messages over with an empty body, whole or split at every offset', () => {
    const copy = message('d', Buffer.alloc(3000, 0x61));
    const input = Buffer.concat([message('X', Buffer.from('ignored')), query('select 1'), copy, message('S')]);
    const options = { wanted: [Frontend.Query, Frontend.Sync, Frontend.Terminate], bodiless: [Frontend.Terminate, Frontend.Sync] };
    const expected: Frame[] = [
      [Frontend.Terminate, ''],
      [Frontend.Query, Buffer.from('select 1\0').toString('hex')],
      [Frontend.Sync, ''],
    ];
    expect(frames([input], options).frames).toEqual(expected);
    for (let cut = 1; cut < input.length; cut += 7) {
      const { frames: got, parser } = frames([input.subarray(0, cut), input.subarray(cut)], options);
      expect(got).toEqual(expected);
      expect(parser.messages).toBe(4);
    }
  });

  it('reports the startup packets with pseudo codes, then typed messages', () => {
    expect(whole.map(([code]) => code)).toEqual([
      Startup.SSLRequest,
      Startup.StartupMessage,
      Frontend.Password,
      Frontend.Parse,
      Frontend.Bind,
      Frontend.Execute,
      Frontend.Sync,
      Frontend.Query,
      Frontend.CopyData,
      Frontend.CopyDone,
      Frontend.Query,
      Frontend.Terminate,
    ]);
    expect(whole[7][1]).toBe(Buffer.from('copy t from stdin\0').toString('hex'));
    expect(whole[8][1]).toBe(Buffer.alloc(3000, 0x61).toString('hex'));
  });

  it('gives the same frames when the stream is split at every offset', () => {
    for (let i = 0; i <= stream.length; i++) {
      const { frames: got, parser } = frames([stream.subarray(0, i), stream.subarray(i)]);
      expect(got).toEqual(whole);
      expect(parser.consumed).toBe(stream.length);
      expect(parser.pending).toBe(0);
    }
  });

  it('gives the same frames when fed one byte at a time', () => {
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(frames(bytes).frames).toEqual(whole);
  });

  it('counts unwanted messages without reporting or copying them', () => {
    const wanted = [Frontend.Query, Frontend.Execute];
    for (const split of [0, 40, 100, 200, 2000, stream.length]) {
      const { frames: got, parser } = frames([stream.subarray(0, split), stream.subarray(split)], { startup: true, wanted });
      expect(got.map(([c]) => c)).toEqual([Startup.SSLRequest, Startup.StartupMessage, Frontend.Execute, Frontend.Query, Frontend.Query]);
      expect(parser.messages).toBe(12);
    }
  });

  it('parses startup packets only while in startup mode', () => {
    const { frames: got, parser } = frames([startupMessage({ user: 'u' }), query('x')], { startup: true });
    expect(got.map(([c]) => c)).toEqual([Startup.StartupMessage, Frontend.Query]);
    expect(parser.inStartup).toBe(false);
    expect(frames([cancelRequest(7, 9)], { startup: true }).frames).toEqual([[Startup.CancelRequest, '04d2162e0000000700000009']]);
  });

  it('stops with an error on an impossible length', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 2, 0x41]);
    const { frames: got, parser } = frames([query('ok'), bad, query('never')], {});
    expect(got).toHaveLength(1);
    expect(parser.error).toBe("invalid message 'Q' length 2");
    expect(frames([Buffer.from([0, 0, 0, 4, 0, 0, 0, 0])], { startup: true }).parser.error).toBe('invalid startup packet length 4');
  });

  it('cuts bodies over maxBody and says so', () => {
    const seen: [number, boolean][] = [];
    const parser = new FrameParser((_code, body) => seen.push([body.length, parser.truncated]), { maxBody: 10 });
    const big = query('x'.repeat(50));
    parser.feed(big.subarray(0, 20));
    parser.feed(big.subarray(20));
    parser.feed(query('short'));
    expect(seen).toEqual([
      [10, true],
      [6, false],
    ]);
  });

  it('frames any message sequence the same however it is chunked (fuzz)', () => {
    const msg = fc.record({ type: fc.constantFrom('Q', 'P', 'B', 'E', 'S', 'd', 'D', 'C'), body: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map((m) => message(m.type, Buffer.from(m.body))));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        const got = frames(chunks, {}).frames;
        expect(got).toEqual(msgs.map((m) => [m.type.charCodeAt(0), Buffer.from(m.body).toString('hex')]));
      }),
    );
  });
});
