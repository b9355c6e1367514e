export interface DynamicBatcherOptions {
  /** Largest batch one run takes. @defaultValue 32 */
  maxBatchSize?: number;
  /** How long the first waiting item may wait for others before the batch runs. @defaultValue 10 */
  maxWaitMs?: number;
  /**
   * Batches running at once. While that many run, items wait and the next batch fills: it starts when a run hands
   * its slot back (full, or once its oldest item has waited `maxWaitMs`), so a busy batcher runs full batches.
   * @defaultValue Infinity
   */
  maxInFlight?: number;
  /**
   * Batches started and not yet ended, slot handed back or not: bounds what waits beyond the slots (for the model,
   * say) and the memory it holds. @defaultValue twice `maxInFlight`
   */
  maxUnsettled?: number;
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
 * Runs a batch; `release` hands its slot back early (the run is done with what `maxInFlight` bounds, such as its
 * reads, and goes on to what is serialized elsewhere); the slot is handed back when the run settles otherwise.
 */
export type BatchRunner<I, O> = (items: I[], release: () => void) => Promise<O[]>;

/**
 * Collects concurrent requests into batches, as Triton's dynamic batcher does: a batch runs when it is full or
 * when its oldest item has waited `maxWaitMs`, and (with `maxInFlight`) when a slot is free. `runBatch` must
 * return one result per item, in order; if it throws, every item of that batch is rejected with the error.
 */
export class DynamicBatcher<I, O> {
  private queue: { item: I; since: number; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches holding a slot. */
  private running = 0;
  /** Batches started and not ended, slot held or handed back. */
  private unsettled = 0;
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly maxInFlight: number;
  private readonly maxUnsettled: number;
  private readonly recentWindow: number;
  private readonly onBatch: ((size: number) => void) | undefined;
  // counters and a ring buffer: a long-lived worker runs millions of batches, its memory must not grow with them
  private batches = 0;
  private items = 0;
  private readonly ring: number[] = [];

  constructor(
    private readonly runBatch: BatchRunner<I, O>,
    options: DynamicBatcherOptions = {},
  ) {
    this.maxBatchSize = options.maxBatchSize ?? 32;
    this.maxWaitMs = options.maxWaitMs ?? 10;
    this.maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
    this.maxUnsettled = options.maxUnsettled ?? 2 * this.maxInFlight;
    this.recentWindow = options.recentWindow ?? 256;
    this.onBatch = options.onBatch;
    if (
      this.maxBatchSize < 1 ||
      this.recentWindow < 1 ||
      !(this.maxInFlight >= 1) ||
      !(this.maxUnsettled >= this.maxInFlight)
    )
      throw new RangeError(
        `maxBatchSize ${this.maxBatchSize}, maxInFlight ${this.maxInFlight} and recentWindow ${this.recentWindow} must be >= 1, maxUnsettled ${this.maxUnsettled} >= maxInFlight`,
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
      this.queue.push({ item, since: performance.now(), resolve, reject });
      this.dispatch(false);
    });
  }

  /**
   * Starts every batch that may start now: full ones, then (`partial`: from the timer or a slot handed back, not
   * from a submit, so items submitted together go together even with `maxWaitMs` 0) one whose oldest item has
   * waited `maxWaitMs`.
   */
  private dispatch(partial: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length && this.running < this.maxInFlight && this.unsettled < this.maxUnsettled) {
      const waited = performance.now() - this.queue[0]!.since;
      if (this.queue.length < this.maxBatchSize && (!partial || waited < this.maxWaitMs)) {
        clearTimeout(this.timer); // one a runner's synchronous release set meanwhile
        this.timer = setTimeout(() => this.dispatch(true), Math.max(0, this.maxWaitMs - waited));
        return;
      }
      this.start(this.queue.splice(0, this.maxBatchSize));
    }
  }

  private start(batch: typeof this.queue): void {
    this.running += 1;
    this.unsettled += 1;
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.running -= 1;
      this.dispatch(true);
    };
    const settle = () => {
      this.unsettled -= 1;
      if (held) release();
      else this.dispatch(true);
    };
    this.record(batch.length);
    // a runner that throws before returning its promise fails its batch alone
    new Promise<O[]>((resolve) =>
      resolve(
        this.runBatch(
          batch.map((b) => b.item),
          release,
        ),
      ),
    )
      .then(
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
      )
      .finally(settle);
  }

  private record(size: number): void {
    this.ring[this.batches % this.recentWindow] = size;
    this.batches += 1;
    this.items += size;
    this.onBatch?.(size);
  }
}
