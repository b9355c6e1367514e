import type { ObjectStore } from "@lxtag/storage";

export class ImageFetchError extends Error {
  override name = "ImageFetchError";
  constructor(
    readonly ref: string,
    message: string,
  ) {
    super(`image ${ref}: ${message}`);
  }
}

/** An image reference is an S3 key in the lxtag bucket or an http(s) URL. */
export async function fetchImage(store: ObjectStore, ref: string, maxBytes: number): Promise<Buffer> {
  if (!/^https?:\/\//i.test(ref)) {
    try {
      return await store.get(ref);
    } catch (err) {
      throw new ImageFetchError(ref, err instanceof Error ? err.message : String(err));
    }
  }
  const res = await fetch(ref, { signal: AbortSignal.timeout(30_000) }).catch((err: Error) => {
    throw new ImageFetchError(ref, err.message);
  });
  if (!res.ok || !res.body) throw new ImageFetchError(ref, `HTTP ${res.status}`);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    if (n > maxBytes) throw new ImageFetchError(ref, `larger than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
