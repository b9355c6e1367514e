export interface DynamicBatcherOptions {
  /** Largest batch one run takes. @defaultValue 32 */
  maxBatchSize?: number;
  /** How long the first waiting item may wait for others before the batch runs. @defaultValue 10 */
  maxWaitMs?: number;
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
  /** Sizes of the batches run so far (for metrics and tests). */
  readonly batchSizes: number[] = [];

  constructor(
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    options: DynamicBatcherOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 32;
    this.maxWaitMs = options.maxWaitMs ?? 10;
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
      this.batchSizes.push(batch.length);
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
}
