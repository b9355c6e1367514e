import type { Repositories } from "@lxtag/db";

/** Whether enough new data arrived since the last successful run to train again. */
export interface Freshness {
  /** When the last successful run started; null: none ever finished. */
  since: Date | null;
  posts: number;
  labels: number;
  /** Null: train; else why the run is skipped. */
  skipReason: string | null;
}

/**
 * Counts labeled posts that became ready and human labels written since the last successful run started (a run
 * reads its data after it starts, so what arrived during it counts again next time rather than never). The first
 * run always trains.
 */
export async function checkFreshness(repos: Repositories, minNew: number): Promise<Freshness> {
  const last = await repos.trainingRuns.lastDone();
  if (!last) return { since: null, posts: 0, labels: 0, skipReason: null };
  const since = last.startedAt ?? last.createdAt;
  const { posts, labels } = await repos.trainingExamples.newSince(since);
  const skipReason =
    posts + labels < minNew
      ? `${posts} new labeled posts and ${labels} new labels since the last successful run ` +
        `(${last.id}, started ${since.toISOString()}); at least ${minNew} needed (--force runs anyway)`
      : null;
  return { since, posts, labels, skipReason };
}
