/**
 * A small, strict binary codec for round payloads: fixed-size fields, length-prefixed byte
 * strings and counted lists. The reader rejects truncation and trailing bytes, so a payload has
 * exactly one valid encoding.
 * @module
 */

/** Raised by {@link Reader} on malformed input. The session turns it into a culprit-naming abort. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
}

/** Builds a payload. */
export class Writer {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  /** Appends raw bytes of a size both sides know. */
  fixed(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.size += bytes.length;
    return this;
  }
  /** Appends a u8. */
  u8(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError("u8 out of range");
    return this.fixed(Uint8Array.of(v));
  }
  /** Appends a u32 (big endian). */
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError("u32 out of range");
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.fixed(b);
  }
  /** Appends `u32(len) || bytes`. */
  bytes(b: Uint8Array): this {
    return this.u32(b.length).fixed(b);
  }
  /** Appends `u32(count)` then each item through `put`. */
  list<T>(items: readonly T[], put: (w: Writer, item: T) => void): this {
    this.u32(items.length);
    for (const it of items) put(this, it);
    return this;
  }
  /** The encoded payload. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/** Parses a payload produced by {@link Writer}; every read checks bounds. */
export class Reader {
  private off = 0;
  constructor(
    private readonly buf: Uint8Array,
    /** Upper bound on any length or count field, so a hostile prefix cannot request huge buffers. */
    private readonly maxLen = 1 << 20,
  ) {}

  /** Reads `n` raw bytes (a copy). */
  fixed(n: number): Uint8Array {
    if (this.off + n > this.buf.length) throw new DecodeError("payload truncated");
    const out = this.buf.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }
  /** Reads a u8. */
  u8(): number {
    return this.fixed(1)[0]!;
  }
  /** Reads a u32 (big endian). */
  u32(): number {
    const b = this.fixed(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }
  /** Reads `u32(len) || bytes`. */
  bytes(): Uint8Array {
    const n = this.u32();
    if (n > this.maxLen) throw new DecodeError("length field too large");
    return this.fixed(n);
  }
  /** Reads a counted list. */
  list<T>(get: (r: Reader) => T, maxCount = 4096): T[] {
    const n = this.u32();
    if (n > maxCount) throw new DecodeError("list too long");
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(get(this));
    return out;
  }
  /** Asserts the whole payload was consumed. */
  end(): void {
    if (this.off !== this.buf.length) throw new DecodeError("trailing bytes in payload");
  }
}

/**
 * Decodes `payload` with `parse`, converting any decode failure into an Error that names the
 * round: callers wrap it into a ProtocolError blaming the sender.
 */
export function decodeWith<T>(payload: Uint8Array, parse: (r: Reader) => T): T {
  const r = new Reader(payload);
  const v = parse(r);
  r.end();
  return v;
}
