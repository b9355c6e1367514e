import { Worker } from "node:worker_threads";
import type { Feeds, SessionInit, WorkerReply } from "./session-protocol.js";

export class ModelLoadError extends Error {
  override name = "ModelLoadError";
  constructor(
    readonly modelPath: string,
    reason: string,
  ) {
    super(`cannot load ONNX model ${modelPath}: ${reason}`);
  }
}

export class InferenceError extends Error {
  override name = "InferenceError";
}

export interface OrtSessionOptions {
  /** Tried in order; the first that loads wins. @defaultValue ["cpu"] */
  executionProviders?: string[];
  /** ORT intra-op threads. @defaultValue 1 */
  intraOpThreads?: number;
  /**
   * Whether the intra-op threads busy-wait for the next run instead of sleeping. Off by default: between a
   * micro-batching worker's runs they spun through CPU time that S3, Postgres and the worker's own reads needed (the
   * predict worker's threads besides its main one took 2.8 ms of CPU a post on 2 shared cores, 1.2 without).
   * @defaultValue false
   */
  spinWait?: boolean;
  /** Input names the model must have; checked once at load. */
  requiredInputs?: readonly string[];
  requiredOutputs?: readonly string[];
}

/** An ONNX Runtime session on a worker thread. Create with `OrtSession.create`, release with `dispose`. */
export class OrtSession {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (f: Feeds) => void; reject: (e: Error) => void; inputsBack?: (inputs: Feeds) => void }
  >();

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: string[],
    readonly outputNames: string[],
    readonly provider: string,
  ) {
    worker.on("message", (msg: WorkerReply) => {
      if (!("id" in msg)) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if ("error" in msg) p.reject(new InferenceError(msg.error));
      else {
        try {
          p.inputsBack?.(msg.inputs);
        } finally {
          p.resolve(msg.outputs); // the run's answer stands whatever the recycling did
        }
      }
    });
    worker.on("error", (err) => this.failAll(err));
    worker.on("exit", () => this.failAll(new InferenceError("inference thread exited")));
  }

  static async create(modelPath: string, options: OrtSessionOptions = {}): Promise<OrtSession> {
    const init: SessionInit = {
      modelPath,
      executionProviders: options.executionProviders ?? ["cpu"],
      intraOpThreads: options.intraOpThreads ?? 1,
      spinWait: options.spinWait ?? false,
    };
    const worker = new Worker(new URL("./session-worker.js", import.meta.url), { workerData: init });
    const ready = await new Promise<Extract<WorkerReply, { ready: true }>>((resolve, reject) => {
      worker.once("message", (msg: WorkerReply) => {
        if ("ready" in msg) resolve(msg);
        else reject(new ModelLoadError(modelPath, "failed" in msg ? msg.failed : "unexpected reply"));
      });
      worker.once("error", (err) => reject(new ModelLoadError(modelPath, err.message)));
    }).catch(async (err) => {
      await worker.terminate();
      throw err;
    });
    const session = new OrtSession(worker, ready.inputNames, ready.outputNames, ready.provider);
    const missingIn = (options.requiredInputs ?? []).filter((n) => !ready.inputNames.includes(n));
    const missingOut = (options.requiredOutputs ?? []).filter((n) => !ready.outputNames.includes(n));
    if (missingIn.length || missingOut.length) {
      await session.dispose();
      throw new ModelLoadError(modelPath, `missing inputs [${missingIn}] outputs [${missingOut}]`);
    }
    return session;
  }

  /**
   * Runs the graph; the feeds' buffers are transferred to the inference thread and unusable afterwards. After a
   * run that succeeds, `inputsBack` gets them back (new views of the same memory) to fill again.
   */
  run(feeds: Feeds, inputsBack?: (inputs: Feeds) => void): Promise<Feeds> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, inputsBack });
      this.worker.postMessage(
        { id, feeds },
        Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer),
      );
    });
  }

  async dispose(): Promise<void> {
    this.worker.postMessage({ id: 0, dispose: true });
    await new Promise((r) => setTimeout(r, 10));
    await this.worker.terminate();
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values())
      p.reject(err instanceof InferenceError ? err : new InferenceError(err.message));
    this.pending.clear();
  }
}
