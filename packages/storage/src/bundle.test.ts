// Model bundles through the running S3-compatible server (s3rver): published from a folder, fetched back and
// verified from the manifest alone.
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { modelBundlePrefix } from "@lxtag/contracts";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleIntegrityError, fetchBundle, ObjectStore, publishModelBundle } from "./index.js";

const store = new ObjectStore(storeOptions(parseEnv(serviceEnvSchema, process.env)));
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A folder as the engine writes a model bundle: the graph listed in the manifest, no tokenizer yet. */
async function engineBundle(dir: string, id: string): Promise<void> {
  await writeFile(join(dir, "model.onnx"), "graph");
  const manifest = {
    format: "lxtag-model/1",
    id,
    architecture: "lxmert4hashtag",
    config: {},
    hashtags: ["travel", "food"],
    max_length: 32,
    detector: "test-detector",
    created_at: new Date().toISOString(),
    files: { "model.onnx": sha256("graph") },
  };
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
}

describe("publishModelBundle", () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "lxtag-bundle-"));
    await store.ensureBucket();
  });
  afterAll(async () => {
    store.destroy();
    await rm(work, { recursive: true, force: true });
  });

  it("copies the tokenizer in, lists its sha256, and uploads a bundle that fetches back verified", async () => {
    const id = `bundle-test-${randomUUID()}`;
    const dir = await mkdtemp(join(work, "engine-"));
    await engineBundle(dir, id);
    await writeFile(join(work, "tokenizer.json"), "{}");
    const manifest = await publishModelBundle(store, dir, join(work, "tokenizer.json"));
    expect(manifest.files).toEqual({ "model.onnx": sha256("graph"), "tokenizer.json": sha256("{}") });
    expect(manifest.metrics).toEqual({}); // the schema's defaults, written back
    expect(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"))).toEqual(manifest);
    const fetched = await fetchBundle(store, modelBundlePrefix(id), join(work, "fetched"));
    expect(await readFile(join(fetched, "tokenizer.json"), "utf8")).toBe("{}");
    expect(JSON.parse(await readFile(join(fetched, "manifest.json"), "utf8"))).toEqual(manifest);
  });

  it("keeps a tokenizer the bundle already has, and refuses a manifest the schema refuses", async () => {
    const dir = await mkdtemp(join(work, "imported-"));
    await engineBundle(dir, `bundle-test-${randomUUID()}`);
    await writeFile(join(dir, "tokenizer.json"), "[]");
    expect((await publishModelBundle(store, dir)).files["tokenizer.json"]).toBe(sha256("[]"));

    const bad = await mkdtemp(join(work, "bad-"));
    await engineBundle(bad, "");
    await writeFile(join(bad, "tokenizer.json"), "[]");
    await expect(publishModelBundle(store, bad)).rejects.toThrow(/id/);
  });

  it("a fetched file whose sha256 differs from the manifest's is BundleIntegrityError naming it", async () => {
    const id = `bundle-test-${randomUUID()}`;
    const dir = await mkdtemp(join(work, "tampered-"));
    await engineBundle(dir, id);
    await writeFile(join(dir, "tokenizer.json"), "{}");
    await publishModelBundle(store, dir);
    await store.put(`${modelBundlePrefix(id)}model.onnx`, Buffer.from("other graph"));
    const err = await fetchBundle(store, modelBundlePrefix(id), join(work, "tampered")).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BundleIntegrityError);
    expect(err).toMatchObject({
      file: "model.onnx",
      expected: sha256("graph"),
      actual: sha256("other graph"),
    });
  });
});
