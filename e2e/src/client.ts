import { openAsBlob } from "node:fs";
import type { paths } from "./generated/api.js";

type Ok<
  P extends keyof paths,
  M extends "get" | "post",
  T extends string = "application/json",
> = paths[P][M] extends {
  responses: { [code in 200 | 202]?: { content: { [type in T]: infer Body } } };
}
  ? Body
  : never;

/** A batch's state, counts, progress, timings and errors (GET /v1/batches/{id}). */
export type BatchSummary = Ok<"/v1/batches/{id}", "get">;
/** One line of a batch's NDJSON results (GET /v1/batches/{id}/results). */
export type PostResult = Ok<"/v1/batches/{id}/results", "get", "application/x-ndjson">;
/** The answer to an accepted upload (POST /v1/batches, 202). */
export type AcceptedBatch = Ok<"/v1/batches", "post">;

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  onProgress?: (summary: BatchSummary) => void;
}

/** A small client of the lxtag REST API, as a user's script would write it, typed by the API's own OpenAPI document
 * (src/generated/api.ts): for the demo, tests and benchmarks. */
export class LxtagClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {}

  get(path: string, apiKey = this.apiKey): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, { headers: { "x-api-key": apiKey } });
  }

  /** Uploads zip parts as one multipart request; returns the raw response (202 with a batch id when accepted). */
  async uploadZips(paths: string[], apiKey = this.apiKey): Promise<Response> {
    const form = new FormData();
    for (const p of paths) form.append("file", await openAsBlob(p), p.split("/").pop());
    return fetch(`${this.baseUrl}/v1/batches`, {
      method: "POST",
      headers: { "x-api-key": apiKey },
      body: form,
    });
  }

  postJson(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method: "POST",
      headers: { "x-api-key": this.apiKey, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  /** The batch id of an accepted upload, or an error with the API's message. */
  static async batchId(res: Response): Promise<string> {
    if (res.status !== 202) throw new Error(`batch not accepted: ${res.status} ${await res.text()}`);
    return ((await res.json()) as AcceptedBatch).batchId;
  }

  async batch(id: string): Promise<BatchSummary> {
    return (await (await this.get(`/v1/batches/${id}`)).json()) as BatchSummary;
  }

  /** Polls until the batch is done or failed; `onProgress` sees every summary. */
  waitForBatch(id: string, options: WaitOptions = {}): Promise<BatchSummary> {
    return this.waitFor(id, (s) => s.state === "done" || s.state === "failed", options);
  }

  /** Polls until the batch's export has been read and its posts stored and enqueued (or the batch failed). */
  waitForIngest(id: string, options: WaitOptions = {}): Promise<BatchSummary> {
    return this.waitFor(id, (s) => s.state !== "queued" && s.state !== "ingesting", options);
  }

  /** Polls the batch until `reached` says so. */
  async waitFor(
    id: string,
    reached: (s: BatchSummary) => boolean,
    { timeoutMs = 120_000, intervalMs = 300, onProgress = () => {} }: WaitOptions,
  ): Promise<BatchSummary> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.batch(id);
      onProgress(s);
      if (reached(s)) return s;
      if (Date.now() > deadline)
        throw new Error(`batch ${id} still ${s.state} after ${timeoutMs} ms: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async results(id: string): Promise<PostResult[]> {
    const text = await (await this.get(`/v1/batches/${id}/results`)).text();
    return text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as PostResult);
  }
}
