import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE, Startup } from './codes.js';

/**
 * Incremental splitter of a PostgreSQL message stream into frames. TCP delivers messages split across
 * chunks and packed several to a chunk; this finds their boundaries without copying whole chunks.
 *
 * Typed messages are `type byte, int32 length (counting itself), body`. The first messages of a client
 * stream are untyped (`int32 length, int32 code, ...`): StartupMessage, SSLRequest, GSSENCRequest and
 * CancelRequest. They are reported with the pseudo codes of {@link Startup}; after a StartupMessage the
 * parser switches to typed messages. https://www.postgresql.org/docs/current/protocol-overview.html
 */

/** Receives one complete message: its type byte (or a {@link Startup} code) and its body, length word excluded. */
export type FrameHandler = (code: number, body: Buffer) => void;

/** Options of a {@link FrameParser}. */
export interface FrameParserOptions {
  /** Parse a client stream from its start, where untyped startup messages come first. */
  startup?: boolean;
  /**
   * Type bytes whose bodies the handler wants. Others are only counted and skipped, never copied: the
   * proxy relays DataRow and CopyData without looking inside. Default: every message.
   */
  wanted?: Iterable<number>;
  /**
   * Type bytes (among the wanted) whose arrival the handler needs but not their body, e.g. ParseComplete or
   * ReadyForQuery: it gets an empty buffer, so no view is made and no split body is copied.
   */
  bodiless?: Iterable<number>;
  /** Bodies larger than this are cut to this size ({@link FrameParser.truncated} says so). Default 1 MiB. */
  maxBody?: number;
  /** Bytes shared by every parser for bodies split across chunks; a body that finds it spent is cut further. */
  budget?: ByteBudget;
}

/**
 * A pool of bytes for message bodies that must be copied (split across chunks), shared by all sessions
 * so the memory the proxy spends on parsing is bounded whatever the clients announce.
 */
export class ByteBudget {
  constructor(public available: number) {}

  /** Takes up to `wanted` bytes, at least `floor` (so every message keeps a prefix); returns what was granted. */
  take(wanted: number, floor: number): number {
    const granted = Math.min(wanted, Math.max(this.available, floor));
    this.available -= granted;
    return granted;
  }

  give(n: number): void {
    this.available += n;
  }
}

/** Prefix every body keeps even when the budget is spent. */
const BUDGET_FLOOR = 4096;
/** What a bodiless message's handler gets. */
const EMPTY = Buffer.alloc(0);
/** Values of the per-code table besides 0 (skipped): body handed out, or handed out empty. */
const BODY = 1;
const NO_BODY = 2;

/** Default of {@link FrameParserOptions.maxBody}. */
export const DEFAULT_MAX_BODY = 1024 * 1024;

/** Smallest length word of a typed message (the length counts itself) and of an untyped startup packet. */
const MIN_TYPED_LENGTH = 4;
const MIN_STARTUP_LENGTH = 8;
/** libpq and the server refuse startup packets over 10000 bytes (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_LENGTH = 10000;

/** See the module comment. Feed it chunks in order; the handler runs synchronously inside {@link feed}. */
export class FrameParser {
  /** Complete messages seen, wanted or not. */
  messages = 0;
  /** Bytes consumed up to the end of the last complete message. */
  consumed = 0;
  /** Set when the stream is not valid framing; parsing then stops for good. */
  error: string | null = null;
  /** True while the handler runs for a body that was cut (to `maxBody`, or by the budget). */
  truncated = false;
  /** Longest typed message accepted (length word included); longer is a framing error. Adjustable. */
  lengthLimit = 0x7fffffff;

  private startup: boolean;
  private readonly wanted: Uint8Array;
  private readonly maxBody: number;
  private readonly budget: ByteBudget | null;
  private granted = 0;
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  private code = 0;
  private bodyLength = 0;
  private bodyLeft = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private inBody = false;

  constructor(
    private readonly handler: FrameHandler,
    options: FrameParserOptions = {},
  ) {
    this.startup = options.startup ?? false;
    this.maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
    this.budget = options.budget ?? null;
    this.wanted = new Uint8Array(256);
    if (options.wanted) for (const code of options.wanted) this.wanted[code] = BODY;
    else this.wanted.fill(BODY);
    if (options.bodiless) for (const code of options.bodiless) if (this.wanted[code] === BODY) this.wanted[code] = NO_BODY;
  }

  /** True until a StartupMessage has been seen on a client stream parsed with `startup`. */
  get inStartup(): boolean {
    return this.startup;
  }

  /** Body length of the message being handled (its full length on the wire, also when cut). */
  get bodyBytes(): number {
    return this.bodyLength;
  }

  /** Returns what this parser holds of the shared budget; call when its stream ends. */
  release(): void {
    if (this.granted > 0) this.budget?.give(this.granted);
    this.granted = 0;
    this.body = null;
  }

  /** Bytes received but not yet part of a complete message. */
  get pending(): number {
    return this.inBody ? this.bodyLength - this.bodyLeft + this.headerLength() : this.headerFill;
  }

  /** Feeds the next chunk of the stream. */
  feed(chunk: Buffer): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end && this.error === null) {
      if (this.inBody) {
        const take = Math.min(this.bodyLeft, end - pos);
        if (this.body !== null && this.bodyFill < this.body.length) {
          const copy = Math.min(take, this.body.length - this.bodyFill);
          chunk.copy(this.body, this.bodyFill, pos, pos + copy);
          this.bodyFill += copy;
        }
        pos += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) {
          this.inBody = false;
          const body = this.body ?? (this.want() === NO_BODY ? EMPTY : null);
          this.body = null;
          this.complete(body);
          this.release();
        }
        continue;
      }
      const headerLength = this.headerLength();
      let length: number;
      if (this.headerFill === 0 && end - pos >= headerLength) {
        // Fast path: the whole header is in this chunk.
        if (this.startup) {
          length = chunk.readInt32BE(pos);
        } else {
          this.code = chunk[pos];
          length = chunk.readInt32BE(pos + 1);
        }
        pos += headerLength;
      } else {
        const take = Math.min(headerLength - this.headerFill, end - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + take);
        this.headerFill += take;
        pos += take;
        if (this.headerFill < headerLength) continue;
        this.headerFill = 0;
        if (this.startup) {
          length = this.header.readInt32BE(0);
        } else {
          this.code = this.header[0];
          length = this.header.readInt32BE(1);
        }
      }
      if (!this.checkLength(length)) return;
      const bodyLength = length - 4;
      this.bodyLength = bodyLength;
      if (end - pos >= bodyLength) {
        // Fast path: the whole body is in this chunk; hand out a view, no copy.
        const want = this.want();
        this.complete(want === BODY ? chunk.subarray(pos, pos + bodyLength) : want === NO_BODY ? EMPTY : null);
        pos += bodyLength;
        continue;
      }
      this.inBody = true;
      this.bodyLeft = bodyLength;
      this.bodyFill = 0;
      if (this.want() === BODY) {
        const wanted = Math.min(bodyLength, this.maxBody);
        const size = this.budget ? this.budget.take(wanted, BUDGET_FLOOR) : wanted;
        this.granted = this.budget ? size : 0;
        this.body = Buffer.allocUnsafe(size);
        this.truncated = bodyLength > size;
      } else {
        this.body = null;
      }
    }
  }

  private headerLength(): number {
    return this.startup ? 4 : 5;
  }

  private want(): number {
    // Startup packets are always wanted whole: the proxy must see every one of them.
    return this.startup ? BODY : this.wanted[this.code];
  }

  private checkLength(length: number): boolean {
    const [min, max] = this.startup ? [MIN_STARTUP_LENGTH, MAX_STARTUP_LENGTH] : [MIN_TYPED_LENGTH, this.lengthLimit];
    if (length >= min && length <= max) return true;
    this.error = `invalid ${this.startup ? 'startup packet' : `message '${String.fromCharCode(this.code)}'`} length ${length}`;
    return false;
  }

  private complete(body: Buffer | null): void {
    this.messages++;
    this.consumed += this.headerLength() + this.bodyLength;
    let code = this.code;
    if (this.startup) {
      const request = (body as Buffer).readInt32BE(0);
      code = startupCode(request);
      if (code === Startup.StartupMessage) this.startup = false;
    }
    if (body !== null) this.handler(code, body);
    this.truncated = false;
  }
}

/** The pseudo code of an untyped packet from the int32 after its length. */
function startupCode(request: number): number {
  switch (request) {
    case SSL_REQUEST_CODE:
      return Startup.SSLRequest;
    case GSSENC_REQUEST_CODE:
      return Startup.GSSENCRequest;
    case CANCEL_REQUEST_CODE:
      return Startup.CancelRequest;
    default:
      return Startup.StartupMessage;
  }
}
