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
