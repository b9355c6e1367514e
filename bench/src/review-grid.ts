// The review desk's grid on a large batch: 100,000 posts with ten ranked hashtags each, written straight into
// Postgres (ingest has its own figures), served by an API process of its own; warm pages timed over HTTP.
import { randomUUID } from "node:crypto";
import { modelManifestSchema } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { LocalStack, LxtagClient } from "@lxtag/e2e";
import type { BenchConfig } from "./config.js";

export interface ReviewGridBench {
  config: BenchConfig;
  report: (name: string, value: number, unit: string, detail?: string) => void;
  say: (line: string) => void;
}

/** The batch size the figure names. */
const POSTS = 100_000;
/** Ranked hashtags per post, as a serving model writes them. */
const RANKED = 10;
/** The desk's grid page (`GRID_PAGE` in apps/api/web/src/posts.tsx). */
const PAGE = 48;
const WARM_UP = 5;
const TIMED = 25;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * `review_grid_ms_100k` (target < 100 ms): the median time for the API to answer one grid page of a 100,000-post
 * batch, warm, at depths spread over the batch; beside it the filtered grid and the uncertainty queue.
 */
export async function benchReviewGrid({ config, report, say }: ReviewGridBench): Promise<void> {
  say(`== review desk grid: one ${PAGE}-post page of a ${POSTS}-post batch, warm`);
  const key = `bench-${randomUUID()}`;
  const stack = new LocalStack(20_000 + Math.floor(Math.random() * 5000), {
    LXTAG_QUEUE_PREFIX: `lxtag-bench-${randomUUID().slice(0, 8)}`,
    LXTAG_API_KEYS: `bench:${key}`,
    LXTAG_LOG_LEVEL: "error",
    // the timed loops send a few hundred requests a minute from one key
    LXTAG_RATE_LIMIT_MAX: "100000",
  });
  const db = createDb(config.DATABASE_URL);
  const repos = repositories(db);
  const batchId = randomUUID();
  let modelId: string | null = null;
  await stack.startAll(["api"]);
  try {
    const apiKeyId = (await repos.apiKeys.verify(key))!;
    const manifest = modelManifestSchema.parse({
      format: "lxtag-model/1",
      id: `bench-review-grid-${randomUUID().slice(0, 8)}`,
      architecture: "lxmert4hashtag",
      config: {},
      hashtags: Array.from({ length: 50 }, (_, i) => `tag${i}`),
      max_length: 128,
      detector: "bench-detector",
      metrics: {},
      dataset: { id: "bench", posts: 0 },
      created_at: new Date().toISOString(),
      files: {},
    });
    modelId = (await repos.models.register(manifest, `models/${manifest.id}/`)).id;
    await repos.batches.create(batchId, apiKeyId, { type: "json", key: `uploads/${batchId}/posts.json` }, {});
    const t0 = performance.now();
    await db.pool.query(
      `INSERT INTO posts (id, batch_id, seq, dedup_key, caption, model_text, state, flags, hashtags, finished_at)
       SELECT gen_random_uuid(), $1, s, s::text, 'post ' || s || ' with a caption #tag' || (s % 50), 'post ' || s,
              'done', CASE WHEN s % 7 = 0 THEN ARRAY['caption-only'] ELSE '{}'::text[] END,
              ARRAY['tag' || (s % 50)], now()
       FROM generate_series(0, $2 - 1) s`,
      [batchId, POSTS],
    );
    await db.pool.query(
      `INSERT INTO predictions (post_id, model_version_id, rank, hashtag, score)
       SELECT p.id, $2, r, 'tag' || ((p.seq * 7 + r * 13) % 50), (0.95 - r * 0.08 + (p.seq % 17) * 0.003)::real
       FROM posts p, generate_series(1, $3) r WHERE p.batch_id = $1`,
      [batchId, modelId, RANKED],
    );
    await db.pool.query(
      "UPDATE batches SET state = 'done', total_posts = $2, ingested_at = now(), finished_at = now() WHERE id = $1",
      [batchId, POSTS],
    );
    await db.pool.query("ANALYZE posts; ANALYZE predictions");
    say(
      `  wrote ${POSTS} posts and ${POSTS * RANKED} predictions in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const api = new LxtagClient(stack.baseUrl, key);
    const pageMs = async (query: (i: number) => string) => {
      const times: number[] = [];
      for (let i = 0; i < WARM_UP + TIMED; i++) {
        const t = performance.now();
        const res = await api.get(`/v1/batches/${batchId}/posts?limit=${PAGE}${query(i)}`);
        const body = (await res.json()) as { posts: unknown[] };
        if (res.status !== 200 || body.posts.length !== PAGE)
          throw new Error(`grid page: ${res.status}, ${body.posts?.length} posts`);
        if (i >= WARM_UP) times.push(performance.now() - t);
      }
      return median(times);
    };
    // depths spread over the batch: keyset paging costs the same on page 1 and page 2,000
    const depth = (i: number) => Math.floor(((i * 7919) % TIMED) * (POSTS / TIMED));
    const grid = await pageMs((i) => `&after=${depth(i)}`);
    report("review_grid_ms_100k", grid, "ms", `median of ${TIMED} warm ${PAGE}-post pages, target < 100 ms`);
    const filtered = await pageMs((i) => `&after=${depth(i) % 50_000}&flag=caption-only&hashtag=tag3`);
    report("review_grid_filtered_ms_100k", filtered, "ms", "flag and hashtag filters");
    const queue = await pageMs(() => "&order=uncertainty&state=done");
    report("review_queue_ms_100k", queue, "ms", "first page in uncertainty order (scores nearest 0.5 first)");
  } finally {
    await stack.stop();
    await db.pool.query("DELETE FROM batches WHERE id = $1", [batchId]);
    if (modelId) await db.pool.query("DELETE FROM model_versions WHERE id = $1", [modelId]);
    await db.close();
  }
}
