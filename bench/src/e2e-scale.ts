// A 100,000-post export with 1,000 distinct images (the detector runs 1,000 times) through the REST API and both
// workers, upload to last prediction, with each process's peak RSS; and the scale test's 5,000-post export on fresh
// processes before it, so the two peaks show whether memory grows with the export.
import { randomUUID } from "node:crypto";
import {
  dropScaleRuns,
  IsolatedPipeline,
  RSS_CEILING_MIB,
  restartServices,
  runScaleExport,
  SCALE_SETTINGS,
  SCALE_TEST_EXPORT,
  type ScaleExport,
  type ScaleRun,
  type ServiceName,
  writeScaleExport,
} from "@lxtag/e2e";
import type { BenchConfig } from "./config.js";

export interface E2eScaleBench {
  config: BenchConfig;
  /** A folder for the zip parts. */
  work: string;
  report: (name: string, value: number, unit: string, detail?: string) => void;
  say: (line: string) => void;
}

/** 100000 -> "100k", as the figures' names carry the size. */
const sizeLabel = (posts: number) => (posts % 1000 === 0 ? `${posts / 1000}k` : String(posts));
const metricName = (name: ServiceName) => name.replace("-", "_");

/** `e2e_100k_seconds`, `e2e_100k_posts_per_s`, and per process `peak_rss_mib_<process>_{5k,100k}` and their ratio. */
export async function benchE2eScale({ config, work, report, say }: E2eScaleBench): Promise<void> {
  const large = {
    posts: config.LXTAG_BENCH_SCALE_POSTS,
    images: config.LXTAG_BENCH_SCALE_IMAGES,
    otherBytes: config.LXTAG_BENCH_SCALE_OTHER_MB * 2 ** 20,
  };
  const t = new IsolatedPipeline({ ...SCALE_SETTINGS, LXTAG_LOG_LEVEL: "error" });
  const exports: ScaleExport[] = [];
  try {
    await t.start();
    const measure = async (size: {
      posts: number;
      images: number;
      otherBytes: number;
    }): Promise<ScaleRun> => {
      const label = sizeLabel(size.posts);
      const exp = await writeScaleExport(work, `scale-${label}-${randomUUID().slice(0, 8)}`, {
        ...size,
        parts: 3,
      });
      exports.push(exp);
      say(
        `== end to end at scale: ${size.posts} posts sharing ${size.images} new images, ${(exp.bytes / 2 ** 20).toFixed(0)} MiB in 3 zip parts (${(exp.otherBytes / 2 ** 20).toFixed(0)} MiB of it not read: messages), fresh processes`,
      );
      await restartServices(t);
      let said = 0;
      const run = await runScaleExport(t, exp, {
        timeoutMs: 3 * 3600_000,
        intervalMs: size.posts > 20_000 ? 1000 : 250,
        onProgress: (s, seconds) => {
          if (seconds - said < 60) return;
          said = seconds;
          const done = s.counts.done ?? 0;
          say(
            `   ${seconds.toFixed(0)} s: ${s.state}, ${done} done (${(done / seconds).toFixed(1)} posts/s)`,
          );
        },
      });
      const { audit } = run;
      const once =
        run.summary.state === "done" &&
        audit.done === size.posts &&
        audit.predictionSets === size.posts &&
        audit.ranksPerSet.length === 1 &&
        audit.setsWithRepeats === 0;
      if (!once) throw new Error(`${label}: not every post done exactly once: ${JSON.stringify(audit)}`);
      report(
        `e2e_${label}_seconds`,
        run.seconds,
        "s",
        `upload of ${(exp.bytes / 2 ** 20).toFixed(0)} MiB to last prediction; ingested at ${run.ingestSeconds.toFixed(1)} s; detector ran ${run.detectorRuns} times (${run.featurizeMs.detected.toFixed(0)} ms a post), cached posts ${run.featurizeMs.cached.toFixed(0)} ms`,
      );
      report(`e2e_${label}_posts_per_s`, size.posts / run.seconds, "posts/s");
      for (const [name, mib] of Object.entries(run.peakRssMiB) as [ServiceName, number][])
        report(
          `peak_rss_mib_${metricName(name)}_${label}`,
          mib,
          "MiB",
          `${run.peakRssAtIngestMiB[name].toFixed(0)} MiB once ingested; README ceiling ${RSS_CEILING_MIB[name]} MiB`,
        );
      return run;
    };
    const small = await measure(SCALE_TEST_EXPORT);
    const big = await measure(large);
    const bigLabel = sizeLabel(large.posts);
    for (const name of Object.keys(big.peakRssMiB) as ServiceName[])
      report(
        `peak_rss_${bigLabel}_vs_${sizeLabel(SCALE_TEST_EXPORT.posts)}_ratio_${metricName(name)}`,
        big.peakRssMiB[name] / small.peakRssMiB[name],
        "ratio",
        `${(big.peakRssMiB[name] - small.peakRssMiB[name]).toFixed(0)} MiB between the two, ${large.posts / SCALE_TEST_EXPORT.posts}x the posts`,
      );
  } finally {
    await t.stack.stop();
    await dropScaleRuns(t, exports);
    await t.stop();
  }
}
