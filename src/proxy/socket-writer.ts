import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { getSystemErrorName } from 'node:util';

/**
 * Writes relayed chunks to a plain TCP socket through its libuv handle, below the stream layer.
 *
 * `socket.write` runs the Writable machinery per call: a new write request object, the stream's state,
 * a callback and a `process.nextTick` to finish it. The handle's own `writeBuffer` (what that machinery ends
 * in, lib/internal/stream_base_commons.js) first tries `write(2)` at once (libuv's `uv_try_write`); when the
 * kernel takes every byte, which is the common case for the small messages of the protocol, nothing else
 * happens and the request object is not used, so one per socket serves every such write.
 *
 * When the kernel takes only part (its send buffer is full) the rest waits in libuv's queue and still
 * points into the chunk: the writer keeps the chunk alive, `holding` stays true until libuv has written it
 * (the caller must not reuse the chunk's buffer meanwhile), and `write` returns false so the caller stops
 * reading until `onWritten` is called. Anything that cannot go this way goes through `socket.write`: TLS
 * sockets, a socket whose stream still holds bytes (so nothing overtakes them), a socket ending or
 * destroyed, a write while a partial one is still queued (libuv's queue keeps the order: `uv_try_write`
 * refuses while it is not empty), and a write the kernel refused (the stream reports the error as usual).
 *
 * The handle's write request type comes from `process.binding('stream_wrap')`, deprecated but present in
 * Node 20 (DEP0111); without it every write goes through the stream.
 */

/** The parts of Node's `stream_wrap` binding used here. */
interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** A libuv write request as JS sees it; `oncomplete` is called when a queued write finished. */
interface WriteRequest {
  handle: unknown;
  oncomplete: (this: WriteRequest, status: number) => void;
  writer: SocketWriter | null;
  buffer: Buffer | null;
}

/** A stream handle (TCP wrap) as JS sees it. */
interface StreamHandle {
  writeBuffer(req: WriteRequest, data: Uint8Array): number;
}

const binding = loadBinding();

function loadBinding(): StreamWrapBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): StreamWrapBinding }).binding('stream_wrap');
    return typeof b.WriteWrap === 'function' && b.streamBaseState instanceof Int32Array ? b : null;
  } catch {
    return null;
  }
}

/** True when writes can go below the stream layer in this runtime. */
export const directWritesAvailable = binding !== null;

function onComplete(this: WriteRequest, status: number): void {
  const writer = this.writer as SocketWriter;
  this.writer = null;
  this.buffer = null;
  writer.completed(status);
}

/** See the module comment. */
export class SocketWriter {
  /** Reused for every write the kernel takes at once; handed to libuv (and replaced) when it does not. */
  private request: WriteRequest | null = null;
  /** Direct writes libuv still holds. */
  private queued = 0;
  private readonly direct: boolean;

  /**
   * @param onWritten called when a direct write that `write` reported as held (false) has been written.
   * @param enabled false sends every write through the stream.
   */
  constructor(
    readonly socket: Socket,
    private readonly onWritten: () => void,
    enabled = true,
  ) {
    this.direct = enabled && binding !== null && !(socket instanceof TLSSocket);
  }

  /** Bytes of a written chunk are still referenced (by libuv or the stream): its buffer must not be reused. */
  get holding(): boolean {
    return this.queued > 0 || this.socket.writableLength > 0;
  }

  /** Writes `chunk`; false: stop reading until `onWritten` (direct) or the socket's 'drain' (stream). */
  write(chunk: Buffer): boolean {
    const socket = this.socket;
    const handle = (socket as unknown as { _handle: StreamHandle | null })._handle;
    if (!this.direct || this.queued > 0 || handle === null || socket.writableLength > 0 || !socket.writable) {
      return socket.write(chunk);
    }
    const b = binding as StreamWrapBinding;
    let req = this.request;
    if (req === null) {
      req = new b.WriteWrap();
      req.oncomplete = onComplete;
      req.writer = null;
      req.buffer = null;
      this.request = req;
    }
    req.handle = handle;
    const err = handle.writeBuffer(req, chunk);
    // Refused (EPIPE, ECONNRESET, ...): the stream writes it again and reports the error its usual way.
    if (err !== 0) return socket.write(chunk);
    if (b.streamBaseState[b.kLastWriteWasAsync] === 0) return true;
    // Part of the chunk waits in libuv's queue: keep it alive and this request with it.
    this.request = null;
    req.writer = this;
    req.buffer = chunk;
    this.queued++;
    return false;
  }

  /** libuv finished a queued write (status < 0: it failed, or was cancelled by the socket's end). */
  completed(status: number): void {
    this.queued--;
    if (status < 0) {
      if (!this.socket.destroyed) {
        const code = getSystemErrorName(status);
        this.socket.destroy(Object.assign(new Error(`write ${code}`), { errno: status, code, syscall: 'write' }));
      }
      return;
    }
    this.onWritten();
  }
}
