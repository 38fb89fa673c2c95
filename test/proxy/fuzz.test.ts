/**
 * Structure-aware fuzzing of the message parsers and the recorder: valid messages first, then mutated
 * with bytes biased to 0x00 and 0xff (counts and lengths at their edges), which uniform random bytes
 * almost never produce. Parsers may only throw MessageFormatError; the recorder never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseBackendKeyData,
  parseCommandComplete,
  parseErrorResponse,
  parseParameterDescription,
  parseParameterStatus,
} from '../../src/proxy/backend-messages.js';
import { Backend, Frontend } from '../../src/proxy/codes.js';
import type { EventSink } from '../../src/proxy/event-queue.js';
import {
  parseBind,
  parseCancelRequest,
  parseClose,
  parseDescribe,
  parseExecute,
  parseFunctionCall,
  parseParse,
  parseQuery,
  parseStartupMessage,
} from '../../src/proxy/frontend-messages.js';
import { MessageFormatError } from '../../src/proxy/reader.js';
import { SessionRecorder } from '../../src/proxy/session-recorder.js';
import { createSqlRedactor } from '../../src/redact/index.js';
import { bind, describe as describeMsg, execute, int16, int32, parse, query, startupMessage, sync } from './wire.js';

/** A ParameterDescription ('t') body. */
const parameterDescription = (types: number[]) => Buffer.concat([int16(types.length), ...types.map(int32)]);

const body = (m: Buffer) => m.subarray(5);
const text = fc.string({ maxLength: 12 }).map((s) => s.replaceAll('\0', ''));
const value = fc.oneof(
  text,
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
);

/** Valid bodies of every message the recorder reads, by type byte and direction. */
const frontendBodies = fc.oneof(
  fc.tuple(text, text, fc.array(fc.nat(), { maxLength: 4 })).map(([n, t, types]) => [Frontend.Parse, body(parse(n, t, types))] as const),
  fc.tuple(text, text, fc.array(value, { maxLength: 4 })).map(([p, s, v]) => [Frontend.Bind, body(bind(p, s, v))] as const),
  text.map((t) => [Frontend.Query, body(query(t))] as const),
  text.map((p) => [Frontend.Execute, body(execute(p))] as const),
  fc.tuple(fc.constantFrom('S' as const, 'P' as const), text).map(([k, n]) => [Frontend.Describe, body(describeMsg(k, n))] as const),
  fc.tuple(fc.constantFrom('S', 'P'), text).map(([k, n]) => [Frontend.Close, Buffer.from(`${k}${n}\0`)] as const),
  fc.nat().map((oid) => [Frontend.FunctionCall, Buffer.concat([int32(oid), int16(0), int16(0), int16(0)])] as const),
  fc.constant([Frontend.Sync, body(sync())] as const),
);
const backendBodies = fc.oneof(
  fc.array(fc.nat(), { maxLength: 4 }).map((t) => [Backend.ParameterDescription, parameterDescription(t)] as const),
  fc.constantFrom('SELECT 1', 'INSERT 0 3', 'CREATE TABLE').map((t) => [Backend.CommandComplete, Buffer.from(`${t}\0`)] as const),
  fc.constant([Backend.ErrorResponse, Buffer.from('SERROR\0VERROR\0C42601\0Mbad\0\0')] as const),
  fc.constant([Backend.ReadyForQuery, Buffer.from('I')] as const),
  fc.constant([Backend.ParseComplete, Buffer.alloc(0)] as const),
  fc.constant([Backend.BindComplete, Buffer.alloc(0)] as const),
  fc.constant([Backend.CopyInResponse, Buffer.concat([Buffer.from([0]), int16(1), int16(0)])] as const),
);

/** Mutations biased to the edges: overwrite with 0x00/0xff/0x7f/0x80 runs, cut, or append. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    bytes: fc.array(fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.array(fc.constantFrom(0x00, 0xff), { maxLength: 4 }) }),
);

function mutate(b: Buffer, ms: { kind: string; at?: number; bytes?: number[] }[]): Buffer {
  let out = Buffer.from(b);
  for (const m of ms) {
    if (m.kind === 'set' && out.length > 0) {
      const at = (m.at ?? 0) % out.length;
      for (let i = 0; i < (m.bytes ?? []).length && at + i < out.length; i++) out[at + i] = (m.bytes as number[])[i];
    } else if (m.kind === 'cut') {
      out = out.subarray(0, out.length === 0 ? 0 : (m.at ?? 0) % out.length);
    } else if (m.kind === 'append') {
      out = Buffer.concat([out, Buffer.from(m.bytes ?? [])]);
    }
  }
  return out;
}

const PARSERS: ((b: Buffer) => unknown)[] = [
  parseParse,
  parseBind,
  parseQuery,
  parseExecute,
  parseDescribe,
  parseClose,
  parseFunctionCall,
  parseStartupMessage,
  parseCancelRequest,
  parseParameterDescription,
  parseCommandComplete,
  parseErrorResponse,
  parseParameterStatus,
  parseBackendKeyData,
];

function nullSink(): EventSink & { events: number; rejected: number } {
  return {
    events: 0,
    rejected: 0,
    push() {
      this.events++;
    },
    reject() {
      this.rejected++;
    },
    skip() {},
    records() {},
  };
}

describe('structure-aware fuzzing', () => {
  it('reads uint16 counts: 40,000 Parse types, Bind values and ParameterDescription entries', () => {
    const types = Array.from({ length: 40_000 }, (_, i) => i);
    expect(parseParse(body(parse('s', 'select', types))).paramTypes.length).toBe(40_000);
    expect(parseParameterDescription(parameterDescription(types)).length).toBe(40_000);
    expect(parseBind(body(bind('', 's', types.map(String)))).values.length).toBe(40_000);
  });

  it('refuses counts larger than the bytes left (a 0xffff count in a short body)', () => {
    expect(() => parseParameterDescription(Buffer.from([0xff, 0xff, 0, 0, 0, 1]))).toThrow(MessageFormatError);
    expect(() => parseParse(Buffer.from([0x73, 0, 0x78, 0, 0xff, 0xff]))).toThrow(MessageFormatError);
  });

  it('mutated valid messages make every parser throw MessageFormatError or nothing', () => {
    const bodies = fc.oneof(frontendBodies, backendBodies).map(([, b]) => b);
    fc.assert(
      fc.property(bodies, fc.array(mutation, { maxLength: 3 }), (b, ms) => {
        const m = mutate(b, ms);
        for (const fn of PARSERS) {
          try {
            fn(m);
          } catch (err) {
            if (!(err instanceof MessageFormatError)) throw err;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the recorder never throws on mutated conversations: a bad message costs its own event', () => {
    const step = fc.oneof(
      fc.tuple(fc.constant('client' as const), frontendBodies, fc.array(mutation, { maxLength: 2 })),
      fc.tuple(fc.constant('server' as const), backendBodies, fc.array(mutation, { maxLength: 2 })),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const sink = nullSink();
        let index = 1;
        const info = {
          sessionId: 's',
          key: 'k',
          refPrefix: 'proxy:t/s',
          clientAddr: null,
          clientPort: null,
          serverHost: 'h:1',
          startMicros: 0,
          clientTls: false,
        };
        const r = new SessionRecorder(info, sink, () => index, { redactor: createSqlRedactor(), recordParameters: true });
        r.startup(parseStartupMessage(startupMessage({ user: 'u' }).subarray(4)).params, false);
        r.backend(Backend.Authentication, int32(0));
        r.backend(Backend.ReadyForQuery, Buffer.from('I'));
        for (const [direction, [code, b], ms] of steps) {
          if (direction === 'client') {
            index++;
            r.frontend(code, mutate(b, ms));
          } else {
            r.backend(code, mutate(b, ms));
          }
        }
        r.end(null);
        expect(r.failures).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('a malformed ParameterDescription is quarantined, and the session goes on', () => {
    const sink = nullSink();
    const info = {
      sessionId: 's',
      key: 'k',
      refPrefix: 'p',
      clientAddr: null,
      clientPort: null,
      serverHost: 'h',
      startMicros: 0,
      clientTls: false,
    };
    let index = 1;
    const r = new SessionRecorder(info, sink, () => index, { redactor: createSqlRedactor(), recordParameters: true });
    r.startup({ user: 'u' }, false);
    r.backend(Backend.ReadyForQuery, Buffer.from('I'));
    index++;
    r.frontend(Frontend.Describe, body(describeMsg('S', 's')));
    r.backend(Backend.ParameterDescription, Buffer.from([0xff, 0xf0, 0, 0]));
    expect(sink.rejected).toBe(1);
    r.backend(Backend.NoData, Buffer.alloc(0));
    index++;
    r.frontend(Frontend.Query, body(query('select 1')));
    r.backend(Backend.CommandComplete, Buffer.from('SELECT 1\0'));
    r.backend(Backend.ReadyForQuery, Buffer.from('I'));
    expect(sink.events).toBe(2); // CONNECT, the SELECT
  });
});
