/** safetensors: 8-byte little-endian header length, JSON header, raw little-endian data (CONTRACTS.md 2, 5). */
export type DType = "F16" | "F32" | "I32" | "I64" | "U8";

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: Uint16Array | Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

const BYTES: Record<DType, number> = { F16: 2, F32: 4, I32: 4, I64: 8, U8: 1 };

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

export function encodeSafetensors(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new SafetensorsError(
        `tensor ${name}: shape ${t.shape} needs ${count} values, got ${t.data.length}`,
      );
    const size = count * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength); // little-endian hosts only
    bytes.copy(out, at);
    at += bytes.length;
  }
  return out;
}

/** Decodes a safetensors file; tensors may be views of `buf` (so `buf` must not change while they are in use). */
export function decodeSafetensors(buf: Buffer): {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
} {
  if (buf.length < 8) throw new SafetensorsError("truncated: no header length");
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new SafetensorsError("truncated: header runs past the end");
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, unknown>;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  delete header.__metadata__;
  const base = 8 + n;
  const tensors: Record<string, Tensor> = {};
  for (const [name, info] of Object.entries(header) as [
    string,
    { dtype: DType; shape: number[]; data_offsets: [number, number] },
  ][]) {
    const [start, end] = info.data_offsets;
    if (!(info.dtype in BYTES)) throw new SafetensorsError(`tensor ${name}: unsupported dtype ${info.dtype}`);
    if (base + end > buf.length) throw new SafetensorsError(`tensor ${name}: data runs past the end`);
    if (!(start >= 0 && end >= start) || (end - start) % BYTES[info.dtype] !== 0)
      throw new SafetensorsError(
        `tensor ${name}: data_offsets ${start}-${end} do not hold whole ${info.dtype}s`,
      );
    const at = buf.byteOffset + base + start;
    // a view where the data is aligned for its type (always for U8, usually for the rest: the header is padded to
    // 8 bytes), a copy where it is not; on the predict path this saves copying 75 kB per post
    const aligned = at % BYTES[info.dtype] === 0;
    const source = aligned ? buf.buffer : new Uint8Array(buf.subarray(base + start, base + end)).buffer;
    const ctor = { F16: Uint16Array, F32: Float32Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array }[
      info.dtype
    ];
    const data = new ctor(source as ArrayBuffer, aligned ? at : 0, (end - start) / BYTES[info.dtype]);
    tensors[name] = { dtype: info.dtype, shape: info.shape, data };
  }
  return { tensors, metadata };
}
