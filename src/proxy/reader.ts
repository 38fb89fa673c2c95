/**
 * A cursor over one message body. Reads past the end throw a {@link MessageFormatError}: message parsers
 * let it propagate and the session records the message as malformed instead of trusting partial values.
 */

/** A message body that does not follow its documented layout. */
export class MessageFormatError extends Error {}

/** Sequential reader of the big-endian fields of a message body. */
export class BodyReader {
  offset = 0;

  constructor(readonly body: Buffer) {}

  /** Bytes not read yet. */
  get left(): number {
    return this.body.length - this.offset;
  }

  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  /** An unsigned 16-bit count: PostgreSQL reads parameter and format counts as uint16 (up to 65,535). */
  uint16(): number {
    this.need(2);
    const v = this.body.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  /**
   * A count of `n` items of at least `itemBytes` bytes each, checked against the bytes left, so a forged
   * count fails here instead of allocating an array for items that are not there.
   */
  count(itemBytes: number): number {
    const n = this.uint16();
    if (n * itemBytes > this.left) throw new MessageFormatError(`count ${n} exceeds the ${this.left} bytes left`);
    return n;
  }

  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.body.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  byte(): number {
    this.need(1);
    return this.body[this.offset++];
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    // The unnamed statement and portal: the common case, without a search or a decode.
    if (this.body[this.offset] === 0) {
      this.offset++;
      return '';
    }
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw new MessageFormatError('string without terminating NUL');
    const s = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  /** `n` raw bytes, as a view into the body. */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  /** Steps over `n` bytes. */
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.body.length) throw new MessageFormatError(`message body too short (${this.body.length} bytes)`);
  }
}
