// The ingest job over a JSON batch, with two API keys: a post may use only images its own key may read.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTestApi } from "../testing/harness.js";
import { runIngest } from "./ingest-job.js";

interface Row {
  seq: number;
  state: string;
  error: string | null;
  imageKey: string | null;
}

describe("ingest of a JSON batch", () => {
  const api = useTestApi();

  it("fails alone each post whose image is an S3 key outside its key's uploads; the batch goes on", async () => {
    const other = await api.newKey();
    const mine = `uploads/${api.keyId}/${randomUUID()}/photo.png`;
    const theirs = `uploads/${other.keyId}/${randomUUID()}/photo.png`;
    await api.deps.store.put(mine, "png");
    await api.deps.store.put(theirs, "png");
    const dotted = `uploads/${api.keyId}/../${other.keyId}/photo.png`;
    const posts = [
      { caption: "mine #own", image: mine },
      { caption: "borrowed", image: theirs },
      { caption: "the detector", image: "detectors/current.json" },
      { caption: "content-addressed", image: `images/${"ab".repeat(32)}` },
      { caption: "dotted", image: dotted },
      { caption: "from the web", image: "https://images.example.com/a.png" },
      // the same caption as a refused post, without an image: another post, not merged with it
      { caption: "borrowed" },
    ];
    const res = await api.app.inject({
      method: "POST",
      url: "/v1/batches",
      headers: { "x-api-key": api.key },
      payload: { posts },
    });
    expect(res.statusCode).toBe(202);
    const { batchId } = res.json() as { batchId: string };

    await runIngest(batchId, {
      repos: api.deps.repos,
      store: api.deps.store,
      features: api.deps.queues.features,
      log: api.deps.log,
    });

    const rows = await api.deps.db.pool.query<Row>(
      `SELECT seq, state, error, image_key AS "imageKey" FROM posts WHERE batch_id = $1 ORDER BY seq`,
      [batchId],
    );
    const outside = `not under this API key's prefix uploads/${api.keyId}/`;
    const refused = (key: string, reason = outside): Partial<Row> => ({
      state: "failed",
      error: `invalid-image: S3 key ${JSON.stringify(key)} is ${reason}`,
      imageKey: null,
    });
    expect(rows.rows.map(({ seq: _, ...r }) => r)).toEqual([
      { state: "pending", error: null, imageKey: mine },
      refused(theirs),
      refused("detectors/current.json"),
      refused(`images/${"ab".repeat(32)}`),
      refused(dotted, "a key with an empty, '.' or '..' path segment"),
      { state: "pending", error: null, imageKey: "https://images.example.com/a.png" },
      { state: "pending", error: null, imageKey: null },
    ]);
    const summary = await api.deps.repos.batches.summary((await api.deps.repos.batches.find(batchId))!);
    expect(summary.state).toBe("processing");
    expect(summary.errors).toEqual([{ reason: "invalid-image", count: 4 }]);
  });
});
