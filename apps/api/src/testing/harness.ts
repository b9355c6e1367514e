// Test support (not built): an app over the real Postgres, Redis and S3, with a queue prefix and API key of its own.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiKeyOptions } from "@lxtag/db";
import type { Logger } from "@lxtag/runtime";
import { scratchDatabase } from "@lxtag/testkit";
import { afterAll, beforeAll } from "vitest";
import yazl from "yazl";
import { type App, buildApp } from "../app.js";
import { loadConfig } from "../config.js";
import { connect } from "../connect.js";
import type { ApiDeps } from "../deps.js";

export type LogRecord = Record<string, unknown> & { level: string; msg?: string };

/** A logger that keeps its records (with their child bindings, e.g. reqId) for assertions. */
export function captureLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (obj: unknown, msg?: string): void => {
        const fields = typeof obj === "object" && obj !== null ? obj : { msg: String(obj) };
        records.push({ level, ...bindings, ...fields, ...(msg === undefined ? {} : { msg }) });
      };
    const levels = ["fatal", "error", "warn", "info", "debug", "trace"].map((l) => [l, at(l)]);
    return {
      level: "trace",
      ...Object.fromEntries(levels),
      silent: () => {},
      isLevelEnabled: () => true,
      child: (more: Record<string, unknown>) => make({ ...bindings, ...more }),
    } as unknown as Logger;
  };
  return { log: make({}), records };
}

export interface TestApi {
  app: App;
  deps: ApiDeps;
  records: LogRecord[];
  /** The test's API key and its id. */
  key: string;
  keyId: string;
  /** Registers another API key, an admin key with `{admin: true}`. */
  newKey(options?: ApiKeyOptions): Promise<{ key: string; keyId: string }>;
  /** Model versions a test registered, deleted on close. */
  modelIds: string[];
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** Configuration overrides, e.g. an unreachable S3 endpoint. */
  env?: Record<string, string>;
  /** Register an API key for the test (needs a reachable Postgres). @defaultValue true */
  withKey?: boolean;
  /**
   * A migrated database of the app's own, dropped on close: for tests that change the model registry, which every
   * process of the shared database serves from. @defaultValue false
   */
  scratchDatabase?: boolean;
}

/** Builds the app over the configured services, with a fresh queue prefix. */
export async function startTestApi({
  env = {},
  withKey = true,
  scratchDatabase: scratch = false,
}: TestApiOptions = {}): Promise<TestApi> {
  const shared = loadConfig({
    ...process.env,
    LXTAG_QUEUE_PREFIX: `lxtag-test-${randomUUID()}`,
    // an upload spool of its own, removed on close (uploads a test never ingests leave their copies there)
    LXTAG_UPLOAD_SPOOL_DIR: await mkdtemp(join(tmpdir(), "lxtag-test-uploads-")),
    ...env,
  });
  const database = scratch ? await scratchDatabase(shared.DATABASE_URL) : undefined;
  const config = database ? { ...shared, DATABASE_URL: database.url } : shared;
  const { log, records } = captureLogger();
  const connected = connect(config);
  const deps = { ...connected, log };
  const app = await buildApp(deps);
  await app.ready();
  const keyIds: string[] = [];
  const modelIds: string[] = [];
  const newKey = async (options?: ApiKeyOptions) => {
    const key = `test-${randomUUID()}`;
    const keyId = await deps.repos.apiKeys.ensure("test", key, options);
    keyIds.push(keyId);
    return { key, keyId };
  };
  const own = withKey ? await newKey() : { key: "unregistered", keyId: "" };
  return {
    app,
    deps,
    records,
    ...own,
    newKey,
    modelIds,
    async close() {
      await app.close();
      // leave nothing behind: the queues exist under this app's prefix only; rows hang off its keys and models
      await Promise.all(Object.values(deps.queues).map((q) => q.obliterate({ force: true })));
      if (keyIds.length) {
        await deps.db.pool.query("DELETE FROM batches WHERE api_key_id = ANY($1::uuid[])", [keyIds]);
        await deps.db.pool.query("DELETE FROM api_keys WHERE id = ANY($1::uuid[])", [keyIds]);
      }
      if (modelIds.length)
        await deps.db.pool.query("DELETE FROM model_versions WHERE id = ANY($1)", [modelIds]);
      await connected.close();
      await database?.drop();
      await rm(config.LXTAG_UPLOAD_SPOOL_DIR, { recursive: true, force: true });
    },
  };
}

/**
 * The test app of the enclosing `describe`: started before its tests (`beforeAll`), closed after them. The object
 * returned is filled in when it starts, so use its fields in hooks and tests, not at the top of the `describe`.
 */
export function useTestApi(options?: TestApiOptions): TestApi {
  const api = {} as TestApi;
  beforeAll(async () => {
    Object.assign(api, await startTestApi(options));
  });
  afterAll(() => api.close?.());
  return api;
}

/** A multipart body of zip parts (and an optional `options` field) as `app.inject` sends it. */
export function uploadForm(
  parts: { name: string; bytes: string | Uint8Array; type?: string }[],
  options?: string,
): FormData {
  const form = new FormData();
  for (const p of parts)
    form.append("file", new Blob([p.bytes], { type: p.type ?? "application/zip" }), p.name);
  if (options !== undefined) form.append("options", options);
  return form;
}

/** A zip archive of `files` (path -> bytes), in memory: an export part as a test uploads it. */
export async function zipOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [path, bytes] of Object.entries(files)) zip.addBuffer(Buffer.from(bytes), path);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
