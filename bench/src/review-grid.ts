// The review desk's grid on a large batch: 100,000 posts with ten ranked hashtags each, written into Postgres by the
// predict workers' own write (savePredictions, without the pipeline: ingest has its own figures), served by an API
// process of its own; warm pages timed over HTTP, unfiltered, with each filter, and in the uncertainty queue.
import { randomUUID } from "node:crypto";
import { modelManifestSchema } from "@lxtag/contracts";
import { createDb, repositories } from "@lxtag/db";
import { LocalStack, LxtagClient } from "@lxtag/e2e";
import type { BenchConfig } from "./config.js";
import { median } from "./stats.js";

export interface ReviewGridBench {
  config: BenchConfig;
  report: (name: string, value: number, unit: string, detail?: string) => void;
  say: (line: string) => void;
}

/** The batch size the figure names. */
const POSTS = 100_000;
/** Ranked hashtags per post, as a serving model writes them. */
const RANKED = 10;
/** One post in this many has the caption hashtag #rare: 20 in the batch, fewer than a page. */
const RARE_EVERY = 5000;
/** The caption hashtag #late is on every post of the batch's second half: common, but far from its first pages. */
const LATE_FROM = POSTS / 2;
/** Posts per savePredictions call while the batch is written. */
const WRITE_CHUNK = 2000;
/** The desk's grid page (`GRID_PAGE` in apps/api/web/src/posts.tsx). */
const PAGE = 48;
const WARM_UP = 5;
const TIMED = 25;

/**
 * `review_grid_ms_100k` (target < 100 ms): the median time for the API to answer one grid page of a 100,000-post
 * batch, warm, at depths spread over the batch; beside it the grid with each filter (common ones, and a hashtag on
 * fewer posts than a page, which no page in seq order can find by walking the batch) and the uncertainty queue,
 * its first page and later ones.
 */
export async function benchReviewGrid({ config, report, say }: ReviewGridBench): Promise<void> {
  say(`== review desk grid: one ${PAGE}-post page of a ${POSTS}-post batch, warm`);
  const key = `bench-${randomUUID()}`;
  const stack = new LocalStack({
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
      `INSERT INTO posts (id, batch_id, seq, dedup_key, caption, model_text, state, flags, hashtags)
       SELECT gen_random_uuid(), $1, s, s::text, 'post ' || s || ' with a caption #tag' || (s % 50), 'post ' || s,
              'predicting', CASE WHEN s % 7 = 0 THEN ARRAY['caption-only'] ELSE '{}'::text[] END,
              ARRAY['tag' || (s % 50)] || CASE WHEN s % $3 = $3 - 1 THEN ARRAY['rare'] ELSE '{}'::text[] END
                || CASE WHEN s >= $4 THEN ARRAY['late'] ELSE '{}'::text[] END
       FROM generate_series(0, $2 - 1) s`,
      [batchId, POSTS, RARE_EVERY, LATE_FROM],
    );
    const ids = (
      await db.pool.query<{ id: string; seq: number }>(
        "SELECT id, seq FROM posts WHERE batch_id = $1 ORDER BY seq",
        [batchId],
      )
    ).rows;
    for (let i = 0; i < ids.length; i += WRITE_CHUNK)
      await repos.posts.savePredictions(
        modelId,
        ids.slice(i, i + WRITE_CHUNK).map(({ id, seq }) => ({
          postId: id,
          ranked: Array.from({ length: RANKED }, (_, r) => ({
            hashtag: `tag${(seq * 7 + (r + 1) * 13) % 50}`,
            score: 0.95 - (r + 1) * 0.08 + (seq % 17) * 0.003,
          })),
        })),
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
    const pageMs = async (query: (i: number) => string, posts = PAGE) => {
      const times: number[] = [];
      for (let i = 0; i < WARM_UP + TIMED; i++) {
        const t = performance.now();
        const res = await api.get(`/v1/batches/${batchId}/posts?limit=${PAGE}${query(i)}`);
        const body = (await res.json()) as { posts: unknown[] };
        if (res.status !== 200 || body.posts.length !== posts)
          throw new Error(`grid page ${query(i)}: ${res.status}, ${body.posts?.length} posts, not ${posts}`);
        if (i >= WARM_UP) times.push(performance.now() - t);
      }
      return median(times);
    };
    // depths spread over the batch: keyset paging costs the same on page 1 and page 2,000
    const depth = (i: number) => Math.floor(((i * 7919) % TIMED) * (POSTS / TIMED));
    const grid = await pageMs((i) => `&after=${depth(i)}`);
    report("review_grid_ms_100k", grid, "ms", `median of ${TIMED} warm ${PAGE}-post pages, target < 100 ms`);
    const filters: [string, string, (i: number) => string, number?][] = [
      [
        "filtered",
        "flag and hashtag filters",
        (i) => `&after=${depth(i) % 50_000}&flag=caption-only&hashtag=tag3`,
      ],
      ["flag", "flag on 1 post in 7", (i) => `&after=${depth(i) % 90_000}&flag=caption-only`],
      ["hashtag", "hashtag predicted for 1 post in 5", (i) => `&after=${depth(i) % 90_000}&hashtag=tag3`],
      [
        "rare_hashtag",
        `caption hashtag on ${POSTS / RARE_EVERY} posts`,
        () => "&hashtag=rare",
        POSTS / RARE_EVERY,
      ],
      [
        "bunched_hashtag",
        `caption hashtag on the last ${POSTS - LATE_FROM} posts, paged from at least 10,000 posts before them`,
        (i) => `&after=${depth(i) % (LATE_FROM - 10_000)}&hashtag=late`,
      ],
      ["score", "best score below 0.9 (6 posts in 10)", (i) => `&after=${depth(i) % 90_000}&scoreBelow=0.9`],
      ["state", "state done", (i) => `&after=${depth(i) % 90_000}&state=done`],
    ];
    for (const [name, detail, query, posts] of filters)
      report(`review_grid_${name}_ms_100k`, await pageMs(query, posts), "ms", detail);
    const queue = await pageMs(() => "&order=uncertainty&state=done");
    report("review_queue_ms_100k", queue, "ms", "first page in uncertainty order (scores nearest 0.5 first)");
    // later pages: the `next` tokens of pages spread over the queue, as the API writes them
    const tokenAt = async (offset: number) => {
      const r = await db.pool.query<{ uncertainty: number; seq: number }>(
        "SELECT uncertainty, seq FROM posts WHERE batch_id = $1 ORDER BY uncertainty, seq OFFSET $2 LIMIT 1",
        [batchId, offset],
      );
      return `${r.rows[0]!.uncertainty}:${r.rows[0]!.seq}`;
    };
    const tokens: string[] = [];
    for (let i = 0; i < TIMED; i++) tokens.push(await tokenAt(depth(i) % 90_000));
    const later = await pageMs((i) => `&order=uncertainty&state=done&after=${tokens[i % TIMED]}`);
    report("review_queue_later_ms_100k", later, "ms", "later pages of the queue, at depths spread over it");
    const queueHashtag = await pageMs(() => "&order=uncertainty&state=done&hashtag=tag3");
    report("review_queue_hashtag_ms_100k", queueHashtag, "ms", "first page of the queue of one hashtag");
  } finally {
    await stack.stop();
    await db.pool.query("DELETE FROM batches WHERE id = $1", [batchId]);
    if (modelId) await db.pool.query("DELETE FROM model_versions WHERE id = $1", [modelId]);
    await db.close();
  }
}
