// `npm run demo`: a synthetic Instagram export in the real layout, a first model if none is active, the whole
// pipeline on this machine, progress while it runs, a table of results, one JSON line at the end.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createDb, repositories } from "@lxtag/db";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { trainerCommand } from "../apps.js";
import { LxtagClient } from "../client.js";
import { loadConfig } from "../config.js";
import { LocalStack } from "../stack.js";
import { syntheticPosts, writeExportZips } from "../synthetic-export.js";

const jsonOnly = process.argv.includes("--json");
const say = (s: string) => (jsonOnly ? process.stderr.write(`${s}\n`) : console.log(s));
const config = loadConfig();
const POSTS = config.LXTAG_DEMO_POSTS;
const work = join(".lxtag", "demo");
await mkdir(work, { recursive: true });

const db = createDb(config.DATABASE_URL);
const repos = repositories(db);
const store = new ObjectStore(storeOptions(config));
const t0 = performance.now();

say("== detector");
const detector = await trainerCommand<{ id: string; weights: string; selection: string }>(
  "ensure-detector",
  [],
  {
    onLine: (l) => say(`   ${l}`),
  },
);
say(
  `   ${detector.id}: Faster R-CNN, ${detector.selection} box selection, ` +
    (detector.weights === "random"
      ? "tiny with random weights (set LXTAG_DETECTOR_CHECKPOINT to import the public ResNet-101 weights)"
      : `weights from ${detector.weights}`),
);

say("== starting api, feature-worker, predict-worker");
// the predict worker checks the registry every second: a first model is served as soon as it is active
const stack = new LocalStack({ LXTAG_MODEL_POLL_MS: "1000" }, config.LXTAG_DEMO_PORT);
await stack.startAll();
const api = new LxtagClient(stack.baseUrl, config.LXTAG_DEMO_API_KEY);
try {
  let model = await repos.models.active();
  // a model serves only if it was made for this detector and its bundle is still in the store
  if (
    !model ||
    model.detectorId !== detector.id ||
    !(await store.exists(`${model.bundlePrefix}manifest.json`))
  ) {
    // a fresh install: labeled posts come in like any others and wait, featurized, for a model; the first training
    // run (npm run train) learns from them, and they are then labeled by the model it activates
    say("== no model yet: a labeled 600-post export goes in, then the first training run learns from it");
    const labeled = join(work, "instagram-labeled.zip");
    await writeExportZips(await syntheticPosts(600, 7), [labeled]);
    const labeledBatch = await LxtagClient.batchId(await api.uploadZips([labeled]));
    const waiting = await api.waitFor(
      labeledBatch,
      (s) => s.state === "processing" && (s.counts.predicting ?? 0) + (s.counts.failed ?? 0) === s.totalPosts,
      { timeoutMs: 30 * 60_000, intervalMs: 1000 },
    );
    say(`   ${waiting.counts.predicting ?? 0} posts featurized, waiting for a first model; npm run train:`);
    const run = await trainerCommand<{ state: string; candidate?: string }>("train", ["--force"], {
      onLine: (l) => say(`   ${l}`),
    });
    if (run.state !== "done" || !run.candidate)
      throw new Error(`the first training run did not finish: ${JSON.stringify(run)}`);
    const labeledDone = await api.waitForBatch(labeledBatch, { timeoutMs: 10 * 60_000 });
    say(`   the ${labeledDone.counts.done ?? 0} waiting posts were labeled by ${run.candidate}`);
    model = await repos.models.active();
  } else say(`== model ${model.id} is active`);

  say(`== writing a ${POSTS}-post export in three zip parts`);
  const parts = [1, 2, 3].map((i) => join(work, `instagram-demo-part${i}.zip`));
  await writeExportZips(await syntheticPosts(POSTS, 99), parts);
  const started = performance.now();
  const batchId = await LxtagClient.batchId(await api.uploadZips(parts));
  say(`== uploaded: batch ${batchId}`);
  const showBar = !jsonOnly && process.stdout.isTTY;
  let lastDecile = -1;
  const summary = await api.waitForBatch(batchId, {
    timeoutMs: 30 * 60_000,
    intervalMs: 500,
    onProgress: (s) => {
      const width = 40;
      const filled = Math.round(s.progress * width);
      const bar = `   [${"#".repeat(filled)}${".".repeat(width - filled)}] ${(s.progress * 100).toFixed(0).padStart(3)}% ${s.state}`;
      const line = `${bar} done ${s.counts.done ?? 0} failed ${s.counts.failed ?? 0}`;
      if (showBar) process.stdout.write(`\r${line}`);
      else if (Math.floor(s.progress * 10) > lastDecile) say(line); // logs and pipes get a line per 10%
      lastDecile = Math.floor(s.progress * 10);
    },
  });
  if (showBar) process.stdout.write("\n");
  const seconds = (performance.now() - started) / 1000;
  const results = await api.results(batchId);
  say("\n   caption                                   | true tags                  | predicted top-5");
  for (const r of results.slice(0, 8)) {
    const caption = r.caption.split("\n")[0]!.slice(0, 40).padEnd(40);
    const tags = r.labels.join(" ").slice(0, 26).padEnd(26);
    say(
      `   ${caption}  | ${tags} | ${r.hashtags
        .slice(0, 5)
        .map((h) => `${h.hashtag} ${h.score.toFixed(2)}`)
        .join(", ")}`,
    );
  }
  // how well the model does on this export, against the hashtags its captions carry
  const top2 = results.flatMap((r) => r.hashtags.slice(0, 2).map((h) => r.labels.includes(h.hashtag)));
  const allInTop5 = results.filter((r) =>
    r.labels.every((l) => r.hashtags.slice(0, 5).some((h) => h.hashtag === l)),
  );
  say(
    `\n   precision of the top 2: ${(top2.filter(Boolean).length / Math.max(1, top2.length)).toFixed(2)}; posts with every true tag in their top 5: ${allInTop5.length}/${results.length}; total time ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const line = {
    batchId,
    posts: summary.totalPosts,
    done: summary.counts.done ?? 0,
    failed: summary.counts.failed ?? 0,
    withHashtags: results.filter((r) => r.hashtags.length > 0).length,
    modelVersion: model?.id,
    seconds: Math.round(seconds * 10) / 10,
  };
  console.log(JSON.stringify(line));
} finally {
  await stack.stop();
  store.destroy();
  await db.close();
}
