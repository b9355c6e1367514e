import { createHash } from "node:crypto";
import { join } from "node:path";
import { readExport, ZipTree } from "@lxtag/exports";
import type { RoiFeatures } from "@lxtag/storage";
import { extractHashtags, modelText } from "@lxtag/text";
import { Detector, decodeImage, isImage, sniffMediaType } from "@lxtag/vision";
import type { TrainerServices } from "./cli/services.js";
import { writeDataset } from "./dataset-writer.js";
import { ensureDetector } from "./detector-bundle.js";
import { publishModel } from "./publish.js";
import { applyFilters, assertEnoughData, defaultFilters } from "./run/filters.js";
import type { Example } from "./run/labels.js";
import { trainingSettings } from "./run/settings.js";
import { splitExamples } from "./run/split.js";
import { resolveTokenizer } from "./run/tokenizer.js";
import { trainCandidate } from "./run/train.js";
import { planModel } from "./run/warm-start.js";

export interface FirstModelOptions {
  /** Zip parts of one Instagram export whose captions carry hashtags: the labeled posts. */
  exportParts: string[];
  workDir: string;
  epochs?: number;
  log?: (line: string) => void;
}

/**
 * Trains, publishes and activates a first model from a labeled Instagram export (caption hashtags are the labels):
 * features with the serving detector, then the training run's own stages (hash split, filters, a WordPiece
 * tokenizer from the training captions, shards, the engine), a `tiny` LXMERT4Hashtag. What a fresh install uses
 * before any batch has been labeled through the API; its checkpoint is kept, so later runs warm-start from it.
 */
export async function trainFirstModel({ config, store, repos }: TrainerServices, opts: FirstModelOptions) {
  const log = opts.log ?? (() => {});
  const settings = trainingSettings(config, { epochs: opts.epochs, vocabSize: 2000 });
  const { id: detectorId, dir } = await ensureDetector(store, config, log);
  const detector = await Detector.load(dir);
  const tree = await ZipTree.open(opts.exportParts);
  const examples: (Example & { roi: RoiFeatures | null })[] = [];
  try {
    const { posts } = await readExport(tree, { includeReels: true, includeArchived: false });
    log(`${posts.length} labeled posts; detecting regions with ${detectorId}`);
    for (const [i, post] of posts.entries()) {
      const path = post.mediaUris.map((uri) => tree.resolve(uri)).find(Boolean);
      const bytes = path ? await tree.read(path) : null;
      const image = bytes && isImage(sniffMediaType(bytes.subarray(0, 16))) ? bytes : null;
      const roi = image ? await detector.detect(await decodeImage(image)) : null;
      const labels = extractHashtags(post.caption);
      if (!labels.length) continue;
      const imageSha256 = image ? createHash("sha256").update(image).digest("hex") : null;
      examples.push({ id: `first-${i}`, text: modelText(post.caption), labels, imageSha256, roi });
    }
  } finally {
    tree.close();
    await detector.dispose();
  }
  // the stages of a training run, on an export's posts instead of the database's
  const { splits, hashtags } = applyFilters(splitExamples(examples), defaultFilters(settings));
  assertEnoughData(splits, hashtags, settings.minPosts);
  const tokenizer = await resolveTokenizer({
    active: null,
    trainTexts: splits.train.map((e) => e.text),
    vocabSize: settings.vocabSize,
    dir: opts.workDir,
  });
  const dataDir = join(opts.workDir, "dataset");
  const meta = await writeDataset(dataDir, splits, {
    hashtags,
    tokenizerPath: tokenizer.path,
    detectorId,
    rois: async (chunk) => chunk.map((e) => e.roi),
  });
  log(
    `dataset ${meta.id}: ${meta.splits.train} train / ${meta.splits.val} val / ${meta.splits.test} test, ${meta.hashtags.length} hashtags`,
  );
  const plan = await planModel({
    store,
    active: null,
    tokenizer,
    settings,
    scratch: true,
    workDir: opts.workDir,
  });
  const candidate = await trainCandidate(config, {
    datasetDir: dataDir,
    outDir: join(opts.workDir, "model"),
    plan,
    settings,
    tokenizerPath: tokenizer.path,
    onLine: log,
  });
  return publishModel(store, repos, candidate.dir, { checkpoint: candidate.checkpoint, activate: true });
}
