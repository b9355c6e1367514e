// The bench's 100,000-post run (e2e-100k) at test size: 5,000 posts sharing 100 images in three zip parts, the
// last with 160 MiB of messages lxtag does not read, through the three processes at the scale runs' settings. Every
// post ends done exactly once, the detector runs once per image, and no process passes the peak RSS the README
// states for 100,000 posts.
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, type ServiceName } from "./apps.js";
import { IsolatedPipeline } from "./isolated-pipeline.js";
import {
  dropScaleRuns,
  RSS_CEILING_MIB,
  runScaleExport,
  SCALE_SETTINGS,
  SCALE_TEST_EXPORT,
  type ScaleExport,
  type ScaleRun,
  writeScaleExport,
} from "./scale.js";

const t = new IsolatedPipeline({ ...SCALE_SETTINGS });
let exp: ScaleExport | undefined;
let run: ScaleRun | undefined;

beforeAll(async () => {
  await t.start();
  exp = await writeScaleExport(t.work, "scale", SCALE_TEST_EXPORT);
}, 180_000);
afterAll(async () => {
  await t.stack.stop();
  if (exp) await dropScaleRuns(t, [exp]);
  await t.stop();
}, 60_000);

describe(`a ${SCALE_TEST_EXPORT.posts}-post export sharing ${SCALE_TEST_EXPORT.images} images`, () => {
  it("every post done exactly once, the detector once per image", async () => {
    run = await runScaleExport(t, exp!, { timeoutMs: 240_000 });
    const rss = Object.entries(run.peakRssMiB).map(([name, mib]) => `${name} ${mib.toFixed(0)} MiB`);
    console.info(
      `${run.seconds.toFixed(1)} s (ingested at ${run.ingestSeconds.toFixed(1)} s); peak RSS ${rss.join(", ")}`,
    );
    const { posts, images } = SCALE_TEST_EXPORT;
    expect(run.summary.state).toBe("done");
    expect(run.summary.totalPosts).toBe(posts);
    expect(run.summary.counts).toMatchObject({ done: posts, failed: 0 });
    expect(run.audit).toEqual({
      posts,
      done: posts,
      failed: 0,
      predictedPosts: posts,
      predictionSets: posts, // one model, one set each
      ranksPerSet: [10],
      setsWithRepeats: 0,
    });
    expect(run.detectorRuns).toBe(images);
  }, 300_000);

  it("no process passes the README's ceiling", async () => {
    expect(run).toBeDefined();
    const over = Object.entries(run!.peakRssMiB).filter(
      ([name, mib]) => mib >= RSS_CEILING_MIB[name as ServiceName],
    );
    expect(over).toEqual([]);
    // the README states the ceilings the test holds the processes to
    const readme = await readFile(`${ROOT}README.md`, "utf8");
    for (const name of Object.keys(RSS_CEILING_MIB) as ServiceName[])
      expect(readme).toContain(`| ${name} | ${RSS_CEILING_MIB[name]} MiB |`);
  });
});
