// The harder synthetic dataset (Zipf hashtags, posts sharing images, captions naming only some of their hashtags'
// words, label noise; captions free of hashtags): every candidate a training run weighs, the neighbour blend and the
// caption TF-IDF kNN baseline, P/R/F1/accuracy at k = 1..5 on its test split, and the configuration a run promotes
// (the best validation F1@2, the blend where validation keeps it) over the TF-IDF baseline.
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { engineCommand } from "@lxtag/e2e";

type Metrics = Record<string, { precision: number; recall: number; f1: number; accuracy: number }>;

export interface HardSyntheticOptions {
  work: string;
  report: (name: string, value: number, unit: string, detail?: string) => void;
  say: (line: string) => void;
  /** Where the Fig. 3 plot of the run is copied (the README shows docs/hard-synthetic-evaluation.svg). */
  plotTo?: string;
}

/** What a run trains (`LXTAG_TRAIN_CANDIDATES` without masking: these captions have no hashtags to mask). */
const CANDIDATES = ["lxmert4hashtag", "text-only", "linear", "popularity"] as const;
const MODEL = {
  hidden_size: 64,
  num_attention_heads: 4,
  intermediate_size: 128,
  initializer_range: 0.05,
  visual_feat_dim: 256,
};
const name = (s: string) => s.replaceAll("-", "_").replaceAll("+", "_");

export async function benchHardSynthetic({ work, report, say, plotTo }: HardSyntheticOptions): Promise<void> {
  say(
    "== the harder synthetic dataset: candidates, the neighbour blend and TF-IDF kNN (3,000 posts, 300 images)",
  );
  const data = join(work, "hard", "data");
  await engineCommand(["synthetic", "--hard", "--out", data, "--posts", "3000", "--feature-dim", "256"]);
  const meta = JSON.parse(await readFile(join(data, "dataset.json"), "utf8")) as { vocab_size: number };
  const config = JSON.stringify({ ...MODEL, vocab_size: meta.vocab_size });
  const val: Record<string, number> = {};
  for (const arch of CANDIDATES) {
    const out = join(work, "hard", arch);
    await engineCommand([
      ...["train", "--data", data, "--out", out, "--arch", arch, "--preset", "tiny", "--config", config],
      ...["--epochs", arch === "popularity" ? "1" : "15", "--batch-size", "32", "--patience", "15"],
      ...["--lr", arch === "linear" ? "0.05" : "5e-4"],
    ]);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as {
      metrics: { val: Metrics };
    };
    val[arch] = manifest.metrics.val["2"]!.f1;
  }
  // the blend as the run tries it on its choice, and forced (the best weight tried) for the figure with it
  const best = CANDIDATES.reduce((a, b) => (val[b]! > val[a]! ? b : a));
  const lxmert = join(work, "hard", "lxmert4hashtag");
  const blended = join(lxmert, "blend");
  const blendLine = JSON.parse(
    (
      await engineCommand([
        ...[
          "blend",
          "--data",
          data,
          "--checkpoint",
          join(lxmert, "checkpoint.pt"),
          "--out",
          blended,
          "--force",
        ],
      ])
    )
      .trim()
      .split("\n")
      .at(-1)!,
  ) as {
    kept: boolean;
    tried: { weight: number; val_f1_at_2: number };
    k: number;
    val_f1_at_2_without: number;
  };
  // what a run serves: the blend only where validation keeps it, on the candidate it chose
  const keptByRun = best === "lxmert4hashtag" && blendLine.kept;
  const blendTest = (
    JSON.parse(await readFile(join(blended, "manifest.json"), "utf8")) as { metrics: { test: Metrics } }
  ).metrics.test;

  await engineCommand([
    ...["evaluate", "--data", data, "--out", join(work, "hard", "evaluation")],
    ...CANDIDATES.flatMap((a) => ["--model", `${a}=${join(work, "hard", a, "checkpoint.pt")}`]),
  ]);
  const evaluation = JSON.parse(
    await readFile(join(work, "hard", "evaluation", "evaluation.json"), "utf8"),
  ) as Record<string, { metrics: Metrics }>;
  const test: Record<string, Metrics> = {
    ...Object.fromEntries(Object.entries(evaluation).map(([k, v]) => [k, v.metrics])),
    "lxmert4hashtag+blend": blendTest,
  };
  for (const [model, m] of Object.entries(test)) {
    const ks = [1, 2, 3, 4, 5].map((k) => m[String(k)]!);
    report(
      `hard_synthetic_f1_at2_${name(model)}`,
      m["2"]!.f1,
      "F1@2",
      `F1@1..5 ${ks.map((x) => x.f1.toFixed(3)).join(" ")}; P@1..5 ${ks.map((x) => x.precision.toFixed(3)).join(" ")}; ` +
        `R@1..5 ${ks.map((x) => x.recall.toFixed(3)).join(" ")}; Acc@1..5 ${ks.map((x) => x.accuracy.toFixed(3)).join(" ")}`,
    );
  }
  const promoted = keptByRun ? "lxmert4hashtag+blend" : best;
  report(
    "hard_synthetic_best_vs_tfidf_f1_at2",
    test[promoted]!["2"]!.f1 / test["tfidf-knn"]!["2"]!.f1,
    "ratio",
    `the run promotes ${promoted} (best validation F1@2: ${Object.entries(val)
      .map(([a, f]) => `${a} ${f.toFixed(3)}`)
      .join(", ")}; blend val F1@2 ${blendLine.val_f1_at_2_without.toFixed(3)} without, ` +
      `${blendLine.tried.val_f1_at_2.toFixed(3)} at weight ${blendLine.tried.weight}, k ${blendLine.k}, ` +
      `${blendLine.kept ? "kept" : "not kept"})`,
  );
  if (plotTo) {
    await mkdir(join(plotTo, ".."), { recursive: true });
    await copyFile(join(work, "hard", "evaluation", "evaluation.svg"), plotTo);
  }
}
