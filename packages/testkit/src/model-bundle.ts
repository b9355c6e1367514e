import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeWordPieceTokenizer } from "@lxtag/text";
import { engineCommand } from "./engine.js";

/** The texts the test tokenizer learns its vocabulary from: the words tests write in captions. */
export const CORPUS = [
  "a red sunset over the ocean",
  "my dog at the beach",
  "coffee and croissants in paris",
];
/** Both the model's embedding table and the tokenizer's vocabulary: small, so the engine exports it in seconds. */
const VOCAB_SIZE = 200;

export interface RandomModelOptions {
  /** The manifest's id. */
  id: string;
  /** Different seeds make models that rank differently. */
  seed: number;
  /** The detector whose RoI features the model takes. */
  detector: string;
  /** @defaultValue 12 */
  hashtags?: number;
}

/**
 * A small model bundle with random weights (CONTRACTS.md 4), exported by the engine into `dir`, with a WordPiece
 * tokenizer of {@link CORPUS} as its `tokenizer.json` (which the manifest does not list yet: publishing adds
 * it). Returns `dir`.
 */
export async function randomModelBundle(dir: string, options: RandomModelOptions): Promise<string> {
  await engineCommand(
    [
      ...["random-model", "--out", dir, "--hashtags", String(options.hashtags ?? 12)],
      ...["--detector", options.detector, "--config", JSON.stringify({ vocab_size: VOCAB_SIZE })],
      ...["--seed", String(options.seed), "--id", options.id],
    ],
    { devtools: true },
  );
  writeWordPieceTokenizer(CORPUS, join(dir, "tokenizer.json"), VOCAB_SIZE);
  return dir;
}

export interface TrainedModelOptions {
  /** The engine's dataset folder (e.g. written by `synthetic`), shared by the models a test trains. */
  data: string;
  /** Any architecture the engine trains: lxmert4hashtag, concat, text-only, linear, popularity. */
  arch: string;
  /** The detector the manifest names (the engine writes the dataset's; a test's posts carry another). */
  detector: string;
  /** Fit the engine's neighbour blend on the dataset and return the blended bundle. @defaultValue false */
  blend?: boolean;
}

/**
 * A small model the engine really trained (one epoch, tiny config, 2048-d region features as served) and exported,
 * with the test tokenizer: the bundle of a training run, for tests that serve every architecture. Returns the
 * bundle folder (`dir`, or `dir/blend` for the blended one).
 */
export async function trainedModelBundle(dir: string, options: TrainedModelOptions): Promise<string> {
  const config = { vocab_size: VOCAB_SIZE, hidden_size: 32, visual_feat_dim: 2048 };
  await engineCommand([
    ...["train", "--data", options.data, "--out", dir, "--arch", options.arch, "--preset", "tiny"],
    ...["--config", JSON.stringify(config), "--epochs", "1", "--batch-size", "16"],
  ]);
  let bundle = dir;
  if (options.blend) {
    bundle = join(dir, "blend");
    const line = await engineCommand([
      ...["blend", "--data", options.data, "--checkpoint", join(dir, "checkpoint.pt"), "--out", bundle],
      "--force",
    ]);
    if (!JSON.parse(line.trim().split("\n").at(-1)!).out)
      throw new Error(`the blend of ${dir} was not exported`);
  }
  const manifestPath = join(bundle, "manifest.json");
  const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
  await writeFile(manifestPath, JSON.stringify({ ...manifest, detector: options.detector }, null, 2));
  writeWordPieceTokenizer(CORPUS, join(bundle, "tokenizer.json"), VOCAB_SIZE);
  return bundle;
}
