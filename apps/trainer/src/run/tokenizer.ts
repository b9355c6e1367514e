import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CaptionTokenizer, writeWordPieceTokenizer } from "@lxtag/text";
import type { ServingModel } from "./serving-model.js";

export interface RunTokenizer {
  path: string;
  sha256: string;
  vocabSize: number;
  /** The model whose tokenizer it is; null: learned by this run. */
  modelId: string | null;
  /** Where it came from, for the log. */
  source: string;
}

/**
 * Tokenizer continuity: a model's token ids mean what its tokenizer says, so once a model is active every later
 * run keeps its `tokenizer.json` (an imported model's included). Only the first run of a fresh install learns a
 * WordPiece vocabulary, from the training split's texts (never the held-out ones).
 */
export async function resolveTokenizer(options: {
  active: ServingModel | null;
  trainTexts: readonly string[];
  vocabSize: number;
  dir: string;
}): Promise<RunTokenizer> {
  let path: string;
  let source: string;
  if (options.active) {
    path = join(options.active.dir, "tokenizer.json");
    source = `kept from the active model ${options.active.id}`;
  } else {
    await mkdir(options.dir, { recursive: true });
    path = join(options.dir, "tokenizer.json");
    writeWordPieceTokenizer(options.trainTexts, path, options.vocabSize);
    source = `trained on ${options.trainTexts.length} training texts (no active model)`;
  }
  const sha256 = createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
  const vocabSize = CaptionTokenizer.fromFile(path).vocabSize;
  return { path, sha256, vocabSize, modelId: options.active?.id ?? null, source };
}
