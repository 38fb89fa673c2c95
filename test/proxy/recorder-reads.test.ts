/**
 * What the recorder keeps between reads. Bound values as it reads them (`readBind`): the same values,
 * extras and rejections as the reference reading (`parseBind`, `recordParameters`, `parameterExtras`) on
 * generated and mutated Binds, and the same values in the event when the Bind is split across reads of a
 * buffer that is reused (scribbled over) before the server's answer arrives. A repeated Parse, whose
 * reading the recorder reuses, through the same reused buffer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventSink } from '../../src/proxy/event-queue.js';
import { FrameParser } from '../../src/proxy/frame-parser.js';
import { parseBind } from '../../src/proxy/frontend-messages.js';
import { MAX_PARAMETER_BYTES, parameterExtras, readBind, recordParameters } from '../../src/proxy/parameters.js';
import { MessageFormatError } from '../../src/proxy/reader.js';
import {
  BODILESS_BACKEND,
  BODILESS_FRONTEND,
  RECORDED_BACKEND,
  RECORDED_FRONTEND,
  SessionRecorder,
} from '../../src/proxy/session-recorder.js';
import { createSqlRedactor } from '../../src/redact/index.js';
import type { AuditEvent } from '../../src/schema/index.js';
import { bind, cstr, execute, int16, int32, message, parse, startupMessage, sync } from './wire.js';

/** A Bind body with format codes given as 0 (all text), 1 (one for all) or n codes. */
function bindBody(values: (Buffer | null)[], formats: number[]): Buffer {
  const vals = values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(v.length), v])));
  return Buffer.concat([cstr('p'), cstr('s'), int16(formats.length), ...formats.map(int16), int16(values.length), ...vals, int16(0)]);
}

/** What the reference reading makes of a body: values and extras, or the error's message. */
function reference(body: Buffer, types: number[]): { values: string[]; extras: Record<string, unknown> | null } | string {
  try {
    const rec = recordParameters(parseBind(body), types);
    return { values: rec.values, extras: parameterExtras(rec) };
  } catch (err) {
    if (!(err instanceof MessageFormatError)) throw err;
    return err.message;
  }
}

function fast(body: Buffer, types: number[], record = true): { values: string[] | null; extras: Record<string, unknown> | null } | string {
  try {
    const b = readBind(body, () => types, record);
    return { values: b.values, extras: b.extras };
  } catch (err) {
    if (!(err instanceof MessageFormatError)) throw err;
    return err.message;
  }
}

const value = fc.oneof(
  fc.constant(null),
  fc.string({ unit: 'binary', maxLength: 12 }).map((s) => Buffer.from(s, 'utf8')),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
);
const generated = fc
  .tuple(
    fc.array(value, { maxLength: 6 }),
    fc.constantFrom('none', 'one', 'each'),
    fc.array(fc.constantFrom(0, 1, 2, -1), { maxLength: 6 }),
  )
  .map(([values, mode, codes]) => {
    const formats = mode === 'none' ? [] : mode === 'one' ? [codes[0] ?? 1] : values.map((_, i) => codes[i] ?? 0);
    return bindBody(values, formats);
  });

describe('readBind', () => {
  it('reads text, binary and NULL values with their extras', () => {
    const body = bind('p', 's', ['héllo', Buffer.from([0, 0, 0, 42]), null]).subarray(5);
    expect(readBind(body, () => [25, 23], true)).toEqual({
      portal: 'p',
      statement: 's',
      values: ['héllo', 'AAAAKg==', ''],
      extras: { null_parameters: [3], binary_parameters: [{ index: 2, type_oid: 23 }] },
    });
    expect(readBind(body, () => [], false)).toEqual({ portal: 'p', statement: 's', values: null, extras: null });
  });

  it('cuts values longer than MAX_PARAMETER_BYTES, as the reference does', () => {
    const long = Buffer.alloc(MAX_PARAMETER_BYTES + 10, 'é');
    const body = bindBody([long, Buffer.from('x')], [0]);
    const b = readBind(body, () => [], true);
    expect(b.values?.[0]).toBe(long.subarray(0, MAX_PARAMETER_BYTES).toString('utf8'));
    expect(b.extras).toEqual({ truncated_parameters: [1] });
    expect(fast(body, [])).toEqual(reference(body, []));
  });

  it('agrees with the reference reading on generated Binds, whole and mutated (values, extras, rejections)', () => {
    const mutation = fc.tuple(fc.nat(), fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01), fc.nat());
    fc.assert(
      fc.property(generated, fc.array(mutation, { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (body, ms, types) => {
        const out = Buffer.from(body);
        let cut = out;
        for (const [at, byte, len] of ms) {
          if (len % 3 === 0) cut = cut.subarray(0, at % (cut.length + 1));
          else if (cut.length > 0) cut[at % cut.length] = byte;
        }
        const ref = reference(cut, types);
        expect(fast(cut, types)).toEqual(ref);
        // Not recording values still checks the message: the same Binds are rejected, with the same reason.
        const unrecorded = fast(cut, types, false);
        if (typeof ref === 'string') expect(unrecorded).toBe(ref);
        else expect(unrecorded).toEqual({ values: null, extras: null });
      }),
      { numRuns: 3000 },
    );
  });
});

describe('through a reused read buffer', () => {
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

  /** A session fed as the proxy feeds it: each read lands in one buffer, overwritten by the next read. */
  function session() {
    const events: AuditEvent[] = [];
    const sink: EventSink = { push: (e) => events.push(e), reject: () => {}, skip: () => {}, records: () => {} };
    let recorder: SessionRecorder;
    const fparser = new FrameParser((code, body) => (code >= 0x100 ? undefined : recorder.frontend(code, body)), {
      startup: true,
      wanted: RECORDED_FRONTEND,
      bodiless: BODILESS_FRONTEND,
    });
    const bparser = new FrameParser((code, body) => recorder.backend(code, body), { wanted: RECORDED_BACKEND, bodiless: BODILESS_BACKEND });
    recorder = new SessionRecorder(info, sink, () => fparser.messages, { redactor: createSqlRedactor(), recordParameters: true });
    const clientBuf = Buffer.alloc(256 * 1024);
    const serverBuf = Buffer.alloc(4096);
    const read = (parser: FrameParser, buf: Buffer, bytes: Buffer) => {
      bytes.copy(buf);
      parser.feed(buf.subarray(0, bytes.length));
      buf.fill(0xa5); // the next read's bytes
    };
    const client = (bytes: Buffer) => read(fparser, clientBuf, bytes);
    const server = (bytes: Buffer) => read(bparser, serverBuf, bytes);
    client(startupMessage({ user: 'u' }));
    recorder.startup({ user: 'u' }, false);
    server(Buffer.concat([message('R', int32(0)), message('Z', Buffer.from('I'))]));
    return { events, client, server };
  }

  const answer = Buffer.concat([message('1'), message('2'), message('C', cstr('SELECT 1')), message('Z', Buffer.from('I'))]);
  const values = ['héllo wörld', Buffer.from([0xde, 0xad, 0xbe, 0xef]), null, '', Buffer.alloc(MAX_PARAMETER_BYTES + 3, 'x').toString()];
  const expected = ['héllo wörld', '3q2+7w==', '', '', 'x'.repeat(MAX_PARAMETER_BYTES)];
  const expectedExtras = JSON.stringify({
    null_parameters: [3],
    binary_parameters: [{ index: 2, type_oid: 17 }],
    truncated_parameters: [5],
  });

  it('keeps every value when the Bind straddles two reads, at any cut, and the buffer is reused before the answer', () => {
    const request = Buffer.concat([parse('', 'select $1, $2, $3, $4, $5', [25, 17]), bind('', '', values), execute(), sync()]);
    const bindStart = request.indexOf(bind('', '', values).subarray(0, 5));
    // Cuts inside the Bind's header, its names, its format codes, each value's length and bytes.
    const cuts = [...Array(64).keys()].map((i) => bindStart + i).concat([request.length - 40, request.length - 12]);
    for (const at of cuts) {
      const s = session();
      s.client(request.subarray(0, at));
      s.client(request.subarray(at));
      s.client(Buffer.concat([parse('', 'select 2'), bind('', '', []), execute(), sync()])); // reuses the buffer
      s.server(answer);
      s.server(answer);
      expect(s.events.length).toBe(3);
      expect(s.events[1].statement_text).toBe('select $1, $2, $3, $4, $5');
      expect(s.events[1].parameters).toEqual(expected);
      expect(s.events[1].raw_extras).toBe(expectedExtras);
      expect(s.events[2].parameters).toEqual([]);
    }
  });

  it('keeps a portal executed twice (suspended, then complete) after its buffer was reused', () => {
    const s = session();
    s.client(Buffer.concat([parse('', 'select $1'), bind('q', '', ['v1']), execute('q', 1), sync()]));
    s.server(Buffer.concat([message('1'), message('2'), message('s'), message('Z', Buffer.from('I'))]));
    s.client(Buffer.concat([execute('q', 0), sync()]));
    s.server(Buffer.concat([message('C', cstr('SELECT 1')), message('Z', Buffer.from('I'))]));
    expect(s.events.map((e) => e.parameters)).toEqual([null, ['v1'], ['v1']]);
    expect(s.events[1].raw_extras).toBe(JSON.stringify({ portal_suspended: true }));
    expect(s.events[2].raw_extras).toBeNull();
  });

  it('records a repeated Parse as sent, also when the next one differs in a byte or the buffer was reused', () => {
    const s = session();
    const texts = [
      'select $1',
      'select $1',
      'select $2',
      'select $2',
      "ALTER ROLE a PASSWORD 'sëcret1'",
      "ALTER ROLE a PASSWORD 'sëcret2'",
    ];
    for (const text of texts) {
      s.client(Buffer.concat([parse('', text), bind('', '', text.includes('$') ? ['v'] : []), execute(), sync()]));
      s.server(answer);
    }
    s.client(Buffer.concat([parse('n', 'select $1', [25]), bind('', 'n', [Buffer.from('x')]), execute(), sync()]));
    s.server(answer);
    expect(s.events.slice(1).map((e) => e.statement_text)).toEqual([
      'select $1',
      'select $1',
      'select $2',
      'select $2',
      'ALTER ROLE a PASSWORD <REDACTED>',
      'ALTER ROLE a PASSWORD <REDACTED>',
      'select $1',
    ]);
    // The named statement's types are its own, not the unnamed one's before it.
    expect(s.events[7].raw_extras).toBe(JSON.stringify({ binary_parameters: [{ index: 1, type_oid: 25 }] }));
  });
});
