import type { ModelManifest } from "@lxtag/contracts";
import { HashtagModel } from "./hashtag-model.js";

/** A model bundle that does not load, or loads but breaks the model contract (CONTRACTS.md 4). */
export class ModelContractError extends Error {
  override name = "ModelContractError";
  constructor(
    readonly bundleDir: string,
    readonly modelId: string | null,
    reason: string,
  ) {
    super(`model bundle ${modelId ?? bundleDir} cannot serve: ${reason}`);
  }
}

// long enough to reach deep into the vocabulary, with the characters captions carry
const PROBE_TEXTS = [
  "Golden hour on the bridge, coffee and croissants with friends 🌅 ¿qué tal? naïve café 東京 2024",
  "",
];

/**
 * Loads a bundle as a predict worker would and ranks two probe posts (one with text, one empty; no image): the
 * graph must have the contract's inputs and outputs, give one finite score per manifest hashtag, and accept every
 * token id its tokenizer makes. Run before a bundle is registered, so a broken one is refused with its reason
 * instead of failing on every worker's refresh.
 */
export async function checkModelBundle(dir: string): Promise<ModelManifest> {
  let model: HashtagModel;
  try {
    model = await HashtagModel.load(dir);
  } catch (err) {
    throw new ModelContractError(dir, null, err instanceof Error ? err.message : String(err));
  }
  try {
    const h = model.manifest.hashtags.length;
    if (!h) throw new Error("the manifest lists no hashtags");
    const ranked = await model
      .rank(
        PROBE_TEXTS.map((text) => ({ text })),
        h,
      )
      .catch((err: Error) => {
        throw new Error(
          `the probe inference failed (a token id past the model's vocabulary?): ${err.message}`,
        );
      });
    for (const row of ranked) {
      if (row.length !== h)
        throw new Error(`logits give ${row.length} scores per post, the manifest lists ${h} hashtags`);
      if (row.some((r) => !Number.isFinite(r.score))) throw new Error("the probe's scores are not finite");
    }
    return model.manifest;
  } catch (err) {
    throw new ModelContractError(dir, model.id, err instanceof Error ? err.message : String(err));
  } finally {
    await model.dispose();
  }
}
