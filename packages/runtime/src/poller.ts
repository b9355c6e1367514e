export interface Poller {
  /** No tick starts after this; resolves once a tick in progress has ended. */
  stop(): Promise<void>;
}

/**
 * Runs `tick` now, then `intervalMs` after each tick ended (a slow tick, such as a bundle download, never overlaps
 * the next), until `tick` returns "stop" or `stop()` is called. A tick that throws goes to `onError` and is tried
 * again at the next interval.
 */
export function startPolling(
  intervalMs: number,
  tick: () => Promise<"stop" | undefined>,
  onError: (err: Error) => void,
): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = async () => {
    try {
      if ((await tick()) === "stop") stopped = true;
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
    if (!stopped)
      timer = setTimeout(() => {
        running = run();
      }, intervalMs);
  };
  running = run();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
