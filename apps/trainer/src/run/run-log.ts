import type { Repositories } from "@lxtag/db";

/** How often buffered lines are written to the run's row: often enough to watch, not a write per line. */
const FLUSH_MS = 1000;

/**
 * A run's log: every line goes to `sink` at once (the terminal) and, in batches, to the tail kept in the run's
 * row (`repos.trainingRuns.appendLog`), so a run can be followed while it runs and read after it failed.
 */
export class RunLog {
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(
    private readonly repos: Repositories,
    private readonly runId: string,
    private readonly sink: (line: string) => void = () => {},
  ) {}

  line(text: string): void {
    this.sink(text);
    this.pending.push(text);
    this.timer ??= setTimeout(() => void this.flush().catch(() => {}), FLUSH_MS).unref();
  }

  /** Writes what is buffered; rejects with the first write that failed (the run then fails with it). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending;
    this.pending = [];
    this.writing = this.writing.then(async () => {
      try {
        await this.repos.trainingRuns.appendLog(this.runId, lines);
      } catch (err) {
        this.failure ??= err;
      }
    });
    return this.writing.then(() => {
      if (this.failure) throw this.failure;
    });
  }
}
