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
 *
 * An object enters on its second read (its key remembered from the first, as TinyLFU's doorkeeper does), or on its
 * first when the caller says it will be read again (a relabel). Most objects are read once, when their post is
 * first predicted, and keeping each of those cost the predict path a third of its throughput on 2 cores (the
 * worker's CPU 1.4 to 1.5 core-ms a post with every object kept, 0.8 to 1.1 with none): every object was fresh
 * memory, paged in, then carried by the garbage collector until it was evicted unread.
 */
export class FeatureCache {
  // a Map iterates in insertion order: re-inserting on each hit keeps the least recently used first
  private readonly entries = new Map<string, Buffer>();
  /** Loads on their way, and whether to keep what they bring. */
  private readonly loading = new Map<string, { keep: boolean; bytes: Promise<Buffer> }>();
  /** Keys read once and not kept, oldest first, at most `maxSeen`. */
  private readonly seen = new Set<string>();
  private readonly maxSeen: number;
  private held = 0;
  private hits = 0;
  private misses = 0;

  /**
   * @param maxBytes what the entries may hold together
   * @param typicalBytes an entry's usual size: keys of up to four cachefuls of objects read once are remembered
   */
  constructor(
    private readonly maxBytes: number,
    typicalBytes = 75_000,
  ) {
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
    this.maxSeen = Math.ceil((4 * maxBytes) / typicalBytes);
  }

  get stats(): FeatureCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.held, entries: this.entries.size };
  }

  /**
   * The bytes of `key`, from the cache or from `load` (once for concurrent callers); kept if `readAgain`, or if
   * the key was read before (also by a concurrent caller).
   */
  get(key: string, load: () => Promise<Buffer>, readAgain = false): Promise<Buffer> {
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
      pending.keep = true; // a second read, while the first is on its way
      return pending.bytes;
    }
    this.misses += 1;
    // a key read before stays remembered until this read succeeds: a failed load leaves it as it was
    const read = { keep: readAgain || this.seen.has(key), bytes: load() };
    read.bytes = read.bytes.then(
      (buf) => {
        this.loading.delete(key);
        this.seen.delete(key);
        if (read.keep) this.put(key, buf);
        else this.remember(key);
        return buf;
      },
      (err: unknown) => {
        this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, read);
    return read.bytes;
  }

  /** Drops `key`, e.g. bytes that turned out unreadable (a half-written object): the next read loads it again. */
  delete(key: string): void {
    const buf = this.entries.get(key);
    if (!buf) return;
    this.entries.delete(key);
    this.held -= buf.length;
  }

  private remember(key: string): void {
    if (this.maxSeen === 0) return;
    this.seen.add(key);
    if (this.seen.size > this.maxSeen) this.seen.delete(this.seen.values().next().value!);
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
