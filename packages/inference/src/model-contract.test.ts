// The registry's gate: a bundle is checked as a worker would load it, and refused with its reason.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkModelBundle, ModelContractError } from "@lxtag/inference";
import { randomModelBundle } from "@lxtag/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("checkModelBundle", () => {
  let dir: string;
  let good: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-contract-"));
    good = await randomModelBundle(join(dir, "good"), {
      id: "contract-good",
      seed: 5,
      detector: "test-detector",
      hashtags: 6,
    });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** A copy of the good bundle with its manifest changed by `edit`. */
  async function variant(name: string, edit: (manifest: Record<string, unknown>) => void): Promise<string> {
    const out = join(dir, name);
    await cp(good, out, { recursive: true });
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    edit(manifest);
    await writeFile(join(out, "manifest.json"), JSON.stringify(manifest));
    return out;
  }

  it("passes a bundle that serves, and returns its manifest", async () => {
    expect((await checkModelBundle(good)).id).toBe("contract-good");
  });

  it("refuses a manifest that lists other hashtags than the graph scores", async () => {
    const more = await variant("more-hashtags", (m) => {
      m.hashtags = [...(m.hashtags as string[]), "extra"];
    });
    const err = await checkModelBundle(more).catch((e) => e);
    expect(err).toBeInstanceOf(ModelContractError);
    expect(err.message).toMatch(/contract-good cannot serve: .*logits are \[2,6\], expected \[2, 7\]/);
  });

  it("refuses a graph that is not ONNX, naming the file", async () => {
    const broken = join(dir, "broken");
    await cp(good, broken, { recursive: true });
    await writeFile(join(broken, "model.onnx"), "not a model");
    const err = await checkModelBundle(broken).catch((e) => e);
    expect(err).toBeInstanceOf(ModelContractError);
    expect(err.message).toMatch(/cannot serve: cannot load ONNX model .*model\.onnx/);
  });

  it("refuses a bundle without its tokenizer", async () => {
    const bare = join(dir, "bare");
    await cp(good, bare, { recursive: true });
    await rm(join(bare, "tokenizer.json"));
    await expect(checkModelBundle(bare)).rejects.toBeInstanceOf(ModelContractError);
  });
});
