import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, repositories } from "@lxtag/db";
import { parseEnv, serviceEnvSchema, storeOptions } from "@lxtag/runtime";
import { ObjectStore } from "@lxtag/storage";
import { writeWordPieceTokenizer } from "@lxtag/text";
import yazl from "yazl";
import { ensureDetector } from "../detector-bundle.js";
import { runEngine } from "../engine.js";
import { publishModel } from "../publish.js";
import { LxtagClient } from "./client.js";
import { LocalStack } from "./stack.js";

/**
 * The three lxtag processes on fresh queues with their own API keys, the serving detector and a random-weight
 * model of their own, plus direct access to Postgres and S3 for assertions: for tests and benchmarks.
 */
export class IsolatedPipeline {
  readonly env = parseEnv(serviceEnvSchema, process.env);
  readonly prefix = `lxtag-iso-${randomUUID().slice(0, 8)}`;
  readonly key = `key-a-${randomUUID()}`;
  readonly otherKey = `key-b-${randomUUID()}`;
  readonly db = createDb(this.env.DATABASE_URL);
  readonly repos = repositories(this.db);
  readonly store = new ObjectStore(storeOptions(this.env));
  readonly stack: LocalStack;
  readonly client: LxtagClient;
  work = "";

  constructor(env: Record<string, string> = {}) {
    this.stack = new LocalStack(18_000 + Math.floor(Math.random() * 2000), {
      LXTAG_QUEUE_PREFIX: this.prefix,
      LXTAG_API_KEYS: `a:${this.key},b:${this.otherKey}`,
      ...env,
    });
    this.client = new LxtagClient(this.stack.baseUrl, this.key);
  }

  async start(): Promise<this> {
    this.work = await mkdtemp(join(tmpdir(), "lxtag-e2e-"));
    await this.store.ensureBucket();
    const { id: detectorId } = await ensureDetector(this.store, this.env.LXTAG_CACHE_DIR);
    // a random-weight model proves the pipeline (learning is the engine's tests' business); it is registered
    // but not activated, and only this stack's predict worker serves it, so the registry's choice stays as it was
    const dir = join(this.work, "model");
    const tokenizer = join(this.work, "tokenizer.json");
    writeWordPieceTokenizer(["a red sunset over the ocean with my dog"], tokenizer, 200);
    await runEngine([
      "random-model",
      "--out",
      dir,
      "--hashtags",
      "12",
      "--detector",
      detectorId,
      "--config",
      '{"vocab_size": 200}',
    ]);
    const model = await publishModel(this.store, this.repos, dir, tokenizer, false);
    this.stack.setEnv({ LXTAG_MODEL_ID: model.id });
    await this.stack.startAll();
    return this;
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
