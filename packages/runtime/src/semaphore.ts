/**
 * A counting semaphore with weights: S3 requests in flight (weight 1 each) or media bytes held in memory (weight =
 * the entry's size). A weight larger than the capacity is admitted alone, when nothing else is held, so one large
 * file never deadlocks the ingest.
 */
export class Semaphore {
  private held = 0;
  private readonly waiting: { weight: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`semaphore capacity must be positive, got ${capacity}`);
  }

  async use<T>(weight: number, fn: () => Promise<T>): Promise<T> {
    await this.acquire(weight);
    try {
      return await fn();
    } finally {
      this.release(weight);
    }
  }

  private fits(weight: number): boolean {
    return this.held === 0 || this.held + weight <= this.capacity;
  }

  private acquire(weight: number): Promise<void> {
    // first come, first served: a heavy request waiting is not overtaken by lighter ones forever
    if (!this.waiting.length && this.fits(weight)) {
      this.held += weight;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ weight, grant }));
  }

  private release(weight: number): void {
    this.held -= weight;
    while (this.waiting.length && this.fits(this.waiting[0]!.weight)) {
      const next = this.waiting.shift()!;
      this.held += next.weight;
      next.grant();
    }
  }
}

/** `fn` over `items` with at most `concurrency` calls in flight; results in the items' order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        next = items.length; // the others stop taking items: the first failure is the answer
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, run));
  return out;
}
