import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ModelManifest, modelBundlePrefix, modelManifestSchema } from "@lxtag/contracts";
import type { ObjectStore } from "./object-store.js";

export class BundleIntegrityError extends Error {
  override name = "BundleIntegrityError";
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`bundle file ${file}: sha256 ${actual} does not match the manifest's ${expected}`);
  }
}

/** Every bundle manifest (CONTRACTS.md 3 and 4) lists its files with their sha256. */
function manifestFiles(manifestBytes: Buffer): Record<string, string> {
  return (JSON.parse(manifestBytes.toString("utf8")) as { files?: Record<string, string> }).files ?? {};
}

async function sha256File(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/**
 * Fetches a bundle (manifest.json plus the files it lists) from `prefix` into `dir` once, checking every file's
 * sha256 against the manifest. Returns the local folder. A folder already complete is reused as is.
 */
export async function fetchBundle(store: ObjectStore, prefix: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, "manifest.json");
  const manifestBytes = await store.get(`${prefix}manifest.json`);
  for (const [name, digest] of Object.entries(manifestFiles(manifestBytes))) {
    const local = join(dir, name);
    const have = await stat(local).then(
      () => true,
      () => false,
    );
    if (have && (await sha256File(local)) === digest) continue;
    await store.download(`${prefix}${name}`, `${local}.part`);
    const actual = await sha256File(`${local}.part`);
    if (actual !== digest) throw new BundleIntegrityError(name, digest, actual);
    await rename(`${local}.part`, local);
  }
  await writeFile(manifestPath, manifestBytes);
  return dir;
}

/** Uploads a local bundle folder under `prefix`: the files its manifest lists, then the manifest, so readers
 * never see a partial bundle. */
export async function publishBundle(store: ObjectStore, dir: string, prefix: string): Promise<void> {
  const manifestBytes = await readFile(join(dir, "manifest.json"));
  for (const name of Object.keys(manifestFiles(manifestBytes)))
    await store.put(`${prefix}${name}`, await readFile(join(dir, name)));
  await store.put(`${prefix}manifest.json`, manifestBytes, "application/json");
}

/**
 * Publishes a model bundle folder (CONTRACTS.md 4) under `modelBundlePrefix(id)`: copies `tokenizerPath` in as
 * `tokenizer.json` when given (an imported bundle, or a test's, has its own already), records the tokenizer's
 * sha256 in the manifest's files, validates the manifest and writes it back, then uploads the bundle. Returns
 * the manifest.
 */
export async function publishModelBundle(
  store: ObjectStore,
  dir: string,
  tokenizerPath?: string,
): Promise<ModelManifest> {
  const tokenizer = join(dir, "tokenizer.json");
  if (tokenizerPath) await copyFile(tokenizerPath, tokenizer);
  const raw = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8"));
  raw.files["tokenizer.json"] = await sha256File(tokenizer);
  const manifest = modelManifestSchema.parse(raw);
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  await publishBundle(store, dir, modelBundlePrefix(manifest.id));
  return manifest;
}
