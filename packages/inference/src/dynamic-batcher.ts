export interface DynamicBatcherOptions {
  /** Largest batch one run takes. @defaultValue 32 */
  maxBatchSize?: number;
  /** How long the first waiting item may wait for others before the batch runs. @defaultValue 10 */
  maxWaitMs?: number;
  /** How many of the latest batch sizes `stats.recent` keeps. @defaultValue 256 */
  recentWindow?: number;
  /** Called with each batch's size as it starts (metrics). */
  onBatch?: (size: number) => void;
}

/** What the batcher has done: totals since it was created, and the sizes of the latest batches, oldest first. */
export interface BatcherStats {
  batches: number;
  items: number;
  recent: number[];
}

/**
 * Collects concurrent requests into batches, as Triton's dynamic batcher does: a batch runs when it is full or
 * when its oldest item has waited `maxWaitMs`. `runBatch` must return one result per item, in order; if it
 * throws, every item of that batch is rejected with the error.
 */
export class DynamicBatcher<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly recentWindow: number;
  private readonly onBatch: ((size: number) => void) | undefined;
  // counters and a ring buffer: a long-lived worker runs millions of batches, its memory must not grow with them
  private batches = 0;
  private items = 0;
  private readonly ring: number[] = [];

  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    options: DynamicBatcherOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 32;
    this.maxWaitMs = options.maxWaitMs ?? 10;
    this.recentWindow = options.recentWindow ?? 256;
    this.onBatch = options.onBatch;
    if (this.maxBatchSize < 1 || this.recentWindow < 1)
      throw new RangeError(
        `maxBatchSize ${this.maxBatchSize} and recentWindow ${this.recentWindow} must be >= 1`,
      );
  }

  get stats(): BatcherStats {
    const start = this.batches % this.recentWindow;
    const recent =
      this.ring.length < this.recentWindow
        ? [...this.ring]
        : [...this.ring.slice(start), ...this.ring.slice(0, start)];
    return { batches: this.batches, items: this.items, recent };
  }

  submit(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatchSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatchSize);
      this.record(batch.length);
      this.runBatch(batch.map((b) => b.item)).then(
        (results) => {
          if (results.length !== batch.length) {
            const err = new Error(`runBatch returned ${results.length} results for ${batch.length} items`);
            for (const b of batch) b.reject(err);
            return;
          }
          for (const [i, b] of batch.entries()) b.resolve(results[i]!);
        },
        (err) => {
          for (const b of batch) b.reject(err);
        },
      );
      if (this.queue.length < this.maxBatchSize) break;
    }
    if (this.queue.length) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
  }

  private record(size: number): void {
    this.ring[this.batches % this.recentWindow] = size;
    this.batches += 1;
    this.items += size;
    this.onBatch?.(size);
  }
}
