// A batch's result pages, filtered and ordered, against a model of them in plain code: every page of each query,
// over a batch larger than the posts a filtered page reads in order before it asks the filters' indexes, so that
// common filters are answered near the token and rare ones (after that window) through the indexes. And the
// columns savePredictions stores for them: written with the predictions, overwritten by a relabel.
import { randomUUID } from "node:crypto";
import { parseEnv, serviceEnvSchema } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "./client.js";
import { type Repositories, repositories } from "./index.js";
import { type NewPost, postId, type RankedHashtag } from "./posts.js";
import type { PostPageQuery } from "./results.js";
import { scratchDatabase } from "./scratch-database.js";
import { examplePost } from "./testing.js";

const serverUrl = parseEnv(serviceEnvSchema, process.env).DATABASE_URL;

/** More than the 4,000 posts a filtered page reads in order first. */
const POSTS = 6000;
const FAILED_SEQ = 17;
const RARE_FLAG_SEQ = 4500;
const RARE_SEQS = [5000, 5800];
const CAPTIONED_SEQ = 5900;
const LABELED_SEQ = 5500;
/** What reviewers added: "rare" also where it was predicted (5800), which a page must still hold once. */
const LABELS: Record<number, string[]> = { [LABELED_SEQ]: ["labeled", "rare"], [RARE_SEQS[1]!]: ["rare"] };

interface ModelPost {
  id: string;
  seq: number;
  state: "done" | "failed";
  flags: string[];
  captionTags: string[];
  labeled: string[];
  ranked: RankedHashtag[];
}

function newPost(seq: number): NewPost {
  return examplePost(seq, {
    flags: [seq % 7 === 0 ? "caption-only" : "", seq === RARE_FLAG_SEQ ? "rare-flag" : ""].filter(Boolean),
    hashtags: seq === CAPTIONED_SEQ ? ["captioned"] : [],
    failReason: seq === FAILED_SEQ ? "invalid-post: test" : null,
  });
}

function ranked(seq: number): RankedHashtag[] {
  const tags = [`tag${seq % 40}`, "common", ...(RARE_SEQS.includes(seq) ? ["rare"] : [])];
  // scores spread over [0, 1], ties included (seq and seq + 1000 score alike)
  return tags.map((hashtag, i) => ({ hashtag, score: (((seq % 1000) * 37 + i * 211) % 1000) / 1000 }));
}

// what the stored columns mean: Postgres keeps scores as real (float32), and compares a threshold as one
const scores = (p: ModelPost) => p.ranked.map((h) => Math.fround(h.score));
const uncertainty = (p: ModelPost) =>
  p.ranked.length ? Math.min(...scores(p).map((s) => Math.abs(s - 0.5))) : 1;

function expected(posts: ModelPost[], q: Omit<PostPageQuery, "limit">): string[] {
  const h = q.hashtag?.replace(/^#/, "").toLowerCase();
  const matches = posts.filter(
    (p) =>
      (!q.state || p.state === q.state) &&
      (!q.flag || p.flags.includes(q.flag)) &&
      (q.scoreBelow === undefined ||
        (p.ranked.length > 0 && Math.max(...scores(p)) < Math.fround(q.scoreBelow))) &&
      (!h || p.ranked.some((r) => r.hashtag === h) || p.captionTags.includes(h) || p.labeled.includes(h)),
  );
  if (q.order === "uncertainty") matches.sort((a, b) => uncertainty(a) - uncertainty(b) || a.seq - b.seq);
  return matches.map((p) => p.id);
}

describe("a batch's result pages", () => {
  let db: Db;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let repos: Repositories;
  const batchId = randomUUID();
  let posts: ModelPost[];

  async function allPages(q: Omit<PostPageQuery, "limit">, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await repos.results.page(batchId, { ...q, limit, after });
      ids.push(...page.posts.map((p) => p.id));
      if (!page.next) return ids;
      expect(page.posts).toHaveLength(limit);
      after = page.next;
    }
  }

  beforeAll(async () => {
    scratch = await scratchDatabase(serverUrl);
    db = createDb(scratch.url, 2);
    repos = repositories(db);
    const apiKeyId = (await repos.apiKeys.create("results-test")).id;
    for (const model of ["model-a", "model-b", "model-c"])
      await db.pool.query(
        `INSERT INTO model_versions (id, architecture, bundle_prefix, detector_id, hashtags, manifest)
         VALUES ($1, 'test', 'models/', 'detector', 42, '{}')`,
        [model],
      );
    await repos.batches.create(batchId, apiKeyId, { type: "json", key: "test" }, {});
    const news = Array.from({ length: POSTS }, (_, seq) => newPost(seq));
    await repos.posts.insertMany(batchId, news);
    posts = news.map((p) => ({
      id: postId(batchId, p.dedupKey),
      seq: p.seq,
      state: p.failReason ? "failed" : "done",
      flags: p.flags,
      captionTags: p.hashtags,
      labeled: LABELS[p.seq] ?? [],
      ranked: p.failReason ? [] : ranked(p.seq),
    }));
    await repos.posts.savePredictions(
      "model-a",
      posts.map((p) => ({ postId: p.id, ranked: p.ranked })),
    );
    for (const [seq, tags] of Object.entries(LABELS))
      await repos.labels.apply(posts[Number(seq)]!.id, tags, []);
    await db.pool.query("ANALYZE posts");
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  const stored = async (id: string) => {
    const r = await db.pool.query(
      `SELECT uncertainty, top_score AS "topScore", predicted_hashtags AS "predictedHashtags" FROM posts WHERE id = $1`,
      [id],
    );
    // pg reads a real as its shortest decimal: back to the float32 it is
    const row = r.rows[0];
    return { ...row, topScore: row.topScore === null ? null : Math.fround(row.topScore) };
  };

  it("savePredictions stores each post's uncertainty, best score and hashtags; a failed post keeps none", async () => {
    const p = posts[3]!;
    expect(await stored(p.id)).toEqual({
      uncertainty: uncertainty(p),
      topScore: Math.max(...scores(p)),
      predictedHashtags: p.ranked.map((h) => h.hashtag),
    });
    expect(await stored(posts[FAILED_SEQ]!.id)).toEqual({
      uncertainty: 1,
      topScore: null,
      predictedHashtags: [],
    });
  });

  it.each<[string, Omit<PostPageQuery, "limit">, number]>([
    ["the grid", {}, 700],
    ["a common flag", { flag: "caption-only" }, 200],
    ["a flag on one post past the first 4,000", { flag: "rare-flag" }, 48],
    ["a common predicted hashtag", { hashtag: "#Common" }, 700],
    [
      "a hashtag predicted for two posts past the first 4,000, labeled on one and another",
      { hashtag: "rare" },
      1,
    ],
    ["the same hashtag, on one page", { hashtag: "rare" }, 48],
    ["a hashtag only in a caption", { hashtag: "captioned" }, 48],
    ["a hashtag only a reviewer added", { hashtag: "labeled" }, 48],
    ["a best score below a threshold", { scoreBelow: 0.3 }, 100],
    ["a best score no post has", { scoreBelow: 0.001 }, 48],
    ["a state", { state: "failed" }, 48],
    ["the queue", { order: "uncertainty", state: "done" }, 700],
    ["the queue with failed posts last", { order: "uncertainty" }, 700],
    ["the queue of a rare hashtag", { order: "uncertainty", hashtag: "rare" }, 1],
    ["the queue of a rare hashtag, on one page", { order: "uncertainty", hashtag: "rare" }, 48],
    ["the queue with filters", { order: "uncertainty", flag: "caption-only", scoreBelow: 0.9 }, 100],
  ])("pages %s in order, each post once", async (_, query, limit) => {
    expect(await allPages(query, limit)).toEqual(expected(posts, query));
  });

  it("a relabel overwrites the stored columns; a model that ranks nothing leaves the newest predictions'", async () => {
    const p = posts[10]!;
    const relabeled: RankedHashtag[] = [
      { hashtag: "fresh", score: 0.51 },
      { hashtag: "common", score: 0.2 },
    ];
    await repos.posts.savePredictions("model-b", [{ postId: p.id, ranked: relabeled }]);
    const after = { ...p, ranked: relabeled };
    const columns = {
      uncertainty: uncertainty(after),
      topScore: Math.fround(0.51),
      predictedHashtags: ["fresh", "common"],
    };
    expect(await stored(p.id)).toEqual(columns);
    await repos.posts.savePredictions("model-c", [{ postId: p.id, ranked: [] }]);
    expect(await stored(p.id)).toEqual(columns);
    posts[10] = after;
    expect(await allPages({ hashtag: "fresh" }, 48)).toEqual([p.id]);
    expect(await allPages({ hashtag: `tag${10 % 40}` }, 500)).toEqual(expected(posts, { hashtag: "tag10" }));
    const queue = await repos.results.page(batchId, { order: "uncertainty", limit: 5 });
    expect(queue.posts.map((r) => r.id)).toEqual(expected(posts, { order: "uncertainty" }).slice(0, 5));
  });
});
