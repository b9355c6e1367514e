/** What the cache has done since it was created (metrics, the bench). */
export interface FeatureCacheStats {
  hits: number;
  misses: number;
  /** Bytes held now, and entries. */
  bytes: number;
  entries: number;
}

/**
 * A bounded local cache of RoI objects (the encoded bytes, about 75 kB for `lxtag-roi/2`), least recently used out
 * first once `maxBytes` is reached: a relabel reads every post's object again, and posts often share images. RoI
 * objects are content-addressed (detector and image sha256), so an entry never goes stale. Concurrent reads of one
 * key share one load, also with `maxBytes` 0 (no cache). A load that fails is not kept: the next read tries again.
 */
export class FeatureCache {
  // a Map iterates in insertion order: re-inserting on each hit keeps the least recently used first
  private readonly entries = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private held = 0;
  private hits = 0;
  private misses = 0;

  constructor(private readonly maxBytes: number) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
  }

  get stats(): FeatureCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.held, entries: this.entries.size };
  }

  /** The bytes of `key`, from the cache or from `load` (once for concurrent callers). */
  get(key: string, load: () => Promise<Buffer>): Promise<Buffer> {
    const cached = this.entries.get(key);
    if (cached) {
      this.hits += 1;
      this.entries.delete(key);
      this.entries.set(key, cached);
      return Promise.resolve(cached);
    }
    const pending = this.loading.get(key);
    if (pending) {
      this.hits += 1;
      return pending;
    }
    this.misses += 1;
    const loaded = load().then(
      (buf) => {
        this.loading.delete(key);
        this.put(key, buf);
        return buf;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  /** Drops `key`, e.g. bytes that turned out unreadable (a half-written object): the next read loads it again. */
  delete(key: string): void {
    const buf = this.entries.get(key);
    if (!buf) return;
    this.entries.delete(key);
    this.held -= buf.length;
  }

  private put(key: string, buf: Buffer): void {
    if (buf.length > this.maxBytes || this.entries.has(key)) return;
    this.entries.set(key, buf);
    this.held += buf.length;
    for (const [oldest, old] of this.entries) {
      if (this.held <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.held -= old.length;
    }
  }
}
