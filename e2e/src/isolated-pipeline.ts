import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, repositories } from "@lxtag/db";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { writeWordPieceTokenizer } from "@lxtag/text";
import yazl from "yazl";
import { engineCommand, type ServiceName, trainerCommand } from "./apps.js";
import { LxtagClient } from "./client.js";
import { loadConfig } from "./config.js";
import { LocalStack } from "./stack.js";

/**
 * The lxtag services on fresh queues with their own API keys, the serving detector and a random-weight model of
 * their own, plus direct access to Postgres and S3 for assertions: for tests and benchmarks.
 */
export class IsolatedPipeline {
  readonly env = loadConfig();
  readonly prefix = `lxtag-iso-${randomUUID().slice(0, 8)}`;
  readonly key = `key-a-${randomUUID()}`;
  readonly otherKey = `key-b-${randomUUID()}`;
  readonly db = createDb(this.env.DATABASE_URL);
  readonly repos = repositories(this.db);
  readonly store = new ObjectStore(storeOptions(this.env));
  readonly stack: LocalStack;
  readonly client: LxtagClient;
  work = "";
  detectorId = "";
  modelId = "";

  constructor(env: Record<string, string> = {}) {
    this.stack = new LocalStack(18_000 + Math.floor(Math.random() * 2000), {
      LXTAG_QUEUE_PREFIX: this.prefix,
      LXTAG_API_KEYS: `a:${this.key},b:${this.otherKey}`,
      ...env,
    });
    this.client = new LxtagClient(this.stack.baseUrl, this.key);
  }

  /** Provisions the detector and a model, then starts `services` (all three by default). */
  async start(services?: ServiceName[]): Promise<this> {
    this.work = await mkdtemp(join(tmpdir(), "lxtag-e2e-"));
    await this.store.ensureBucket();
    this.detectorId = (await trainerCommand<{ id: string }>("ensure-detector")).id;
    // a random-weight model proves the pipeline (learning is the engine's tests' business); it is registered
    // but not activated, and only this stack's predict worker serves it, so the registry's choice stays as it was
    this.modelId = await this.publishRandomModel("model", { hashtags: 12 });
    this.stack.setEnv({ LXTAG_MODEL_ID: this.modelId });
    await this.stack.startAll(services);
    return this;
  }

  /** A random-weight model for the serving detector, registered (not activated); returns its id. */
  async publishRandomModel(
    name: string,
    options: { hashtags: number; preset?: string; config?: object; texts?: string[]; vocabSize?: number },
  ): Promise<string> {
    const { preset = "tiny", texts = ["a red sunset over the ocean with my dog"], vocabSize = 200 } = options;
    const dir = join(this.work, name);
    const tokenizer = join(this.work, `${name}-tokenizer.json`);
    writeWordPieceTokenizer(texts, tokenizer, vocabSize);
    const config = JSON.stringify({ vocab_size: vocabSize, ...options.config });
    await engineCommand(
      [
        ...["random-model", "--out", dir, "--preset", preset, "--hashtags", String(options.hashtags)],
        ...["--detector", this.detectorId, "--config", config],
      ],
      { devtools: true },
    );
    return (
      await trainerCommand<{ id: string }>("publish-model", ["--bundle", dir, "--tokenizer", tokenizer])
    ).id;
  }

  /** Writes a zip with the given entries into the work folder. */
  async zip(name: string, entries: Record<string, Buffer | string>): Promise<string> {
    const zip = new yazl.ZipFile();
    for (const [entry, body] of Object.entries(entries)) zip.addBuffer(Buffer.from(body), entry);
    zip.end();
    const chunks: Buffer[] = [];
    for await (const c of zip.outputStream) chunks.push(c as Buffer);
    const path = join(this.work, name);
    await writeFile(path, Buffer.concat(chunks));
    return path;
  }

  async stop(): Promise<void> {
    await this.stack.stop();
    this.store.destroy();
    await this.db.close();
  }
}
