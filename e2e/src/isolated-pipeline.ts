import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, type Repositories, repositories } from "@lxtag/db";
import { storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { scratchDatabase } from "@lxtag/testkit";
import { writeWordPieceTokenizer } from "@lxtag/text";
import yazl from "yazl";
import { type CommandOptions, engineCommand, type ServiceName, trainerCommand } from "./apps.js";
import { LxtagClient } from "./client.js";
import { type E2eConfig, loadConfig } from "./config.js";
import { LocalStack } from "./stack.js";

/**
 * The lxtag services on fresh queues with their own API keys, the serving detector and a random-weight model of
 * their own, plus direct access to Postgres and S3 for assertions: for tests and benchmarks. `ownRegistry()` gives
 * one a database and bucket of its own too (its own detector, model registry and training history), for tests that
 * activate models.
 */
export class IsolatedPipeline {
  readonly env: E2eConfig;
  readonly prefix = `lxtag-iso-${randomUUID().slice(0, 8)}`;
  readonly key = `key-a-${randomUUID()}`;
  readonly otherKey = `key-b-${randomUUID()}`;
  /** An admin key: models, training runs and the operations routes (/queues, /metrics). */
  readonly adminKey = `key-admin-${randomUUID()}`;
  readonly db: Db;
  readonly repos: Repositories;
  readonly store: ObjectStore;
  readonly stack: LocalStack;
  readonly client: LxtagClient;
  work = "";
  detectorId = "";
  modelId = "";
  private readonly cleanups: (() => Promise<void>)[] = [];

  /** `env`: settings for every process this pipeline starts (services and trainer commands) and for itself. */
  constructor(private readonly overrides: Record<string, string> = {}) {
    this.env = loadConfig({ ...process.env, ...overrides });
    this.db = createDb(this.env.DATABASE_URL, { service: "e2e" });
    this.repos = repositories(this.db);
    this.store = new ObjectStore(storeOptions(this.env));
    this.stack = new LocalStack({
      LXTAG_QUEUE_PREFIX: this.prefix,
      LXTAG_API_KEYS: `a:${this.key},b:${this.otherKey}`,
      LXTAG_ADMIN_API_KEYS: `admin:${this.adminKey}`,
      ...overrides,
    });
    this.client = new LxtagClient(this.stack.baseUrl, this.key);
  }

  /** A pipeline on a scratch database and bucket: a fresh install, both dropped again by `stop()`. */
  static async ownRegistry(env: Record<string, string> = {}): Promise<IsolatedPipeline> {
    const scratch = await scratchDatabase(loadConfig().DATABASE_URL);
    const bucket = `lxtag-e2e-${randomUUID().slice(0, 8)}`;
    const pipeline = new IsolatedPipeline({ DATABASE_URL: scratch.url, LXTAG_S3_BUCKET: bucket, ...env });
    pipeline.cleanups.push(() => scratch.drop());
    // about a gigabyte a benchmark: left behind, they filled a developer's disk (a bucket the caller named stays)
    if (pipeline.store.bucket === bucket) pipeline.cleanups.push(() => pipeline.store.deleteBucket());
    return pipeline;
  }

  /** Provisions the detector and (unless `model` is false: a fresh install) a model, then starts `services`. */
  async start(services?: ServiceName[], { model = true } = {}): Promise<this> {
    this.work = await mkdtemp(join(tmpdir(), "lxtag-e2e-"));
    await this.store.ensureBucket();
    this.detectorId = (await this.trainer<{ id: string }>("ensure-detector")).id;
    if (model) {
      // a random-weight model proves the pipeline (learning is the engine's tests' business); it is registered
      // but not activated, and only this stack's predict worker serves it, so the registry's choice stays as it was
      this.modelId = await this.publishRandomModel("model", { hashtags: 12 });
      this.stack.setEnv({ LXTAG_MODEL_ID: this.modelId });
    }
    await this.stack.startAll(services);
    return this;
  }

  /** One of the trainer's commands, with this pipeline's settings. */
  trainer<T = Record<string, unknown>>(
    name: Parameters<typeof trainerCommand>[0],
    args: string[] = [],
    options: CommandOptions = {},
  ): Promise<T> {
    return trainerCommand<T>(name, args, { ...options, env: { ...this.overrides, ...options.env } });
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
      { devtools: true, env: this.overrides },
    );
    // with this pipeline's settings: a pipeline on services of its own publishes there
    return (await this.trainer<{ id: string }>("publish-model", ["--bundle", dir, "--tokenizer", tokenizer]))
      .id;
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
    try {
      await this.stack.stop();
      await this.db.close();
      for (const cleanup of this.cleanups) await cleanup();
    } finally {
      this.store.destroy();
      if (this.work) await rm(this.work, { recursive: true, force: true });
    }
  }
}
