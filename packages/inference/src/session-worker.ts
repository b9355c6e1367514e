// Runs one ONNX Runtime session on its own thread: ORT's run() blocks the thread it is called on, and the
// caller's event loop must stay free to renew BullMQ job locks.
import { parentPort, workerData } from "node:worker_threads";
import ort from "onnxruntime-node";
import type { Feeds, SessionInit, WorkerReply, WorkerRequest } from "./session-protocol.js";

const init = workerData as SessionInit;
const port = parentPort!;
const send = (msg: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

async function open(): Promise<{ session: ort.InferenceSession; provider: string }> {
  let lastError: unknown;
  // Try the configured providers in order (e.g. CUDA first, then CPU): a missing GPU library is not fatal.
  for (let i = 0; i < init.executionProviders.length; i++) {
    const providers = init.executionProviders.slice(i);
    try {
      const session = await ort.InferenceSession.create(init.modelPath, {
        executionProviders: providers,
        intraOpNumThreads: init.intraOpThreads,
        graphOptimizationLevel: "all",
        extra: { session: { intra_op: { allow_spinning: init.spinWait ? "1" : "0" } } },
      });
      return { session, provider: providers[0]! };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

try {
  const { session, provider } = await open();
  send({ ready: true, inputNames: [...session.inputNames], outputNames: [...session.outputNames], provider });
  port.on("message", async (req: WorkerRequest) => {
    if ("dispose" in req) {
      await session.release();
      port.close();
      return;
    }
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = await session.run(feeds);
      const outputs: Feeds = {};
      // the inputs go back too: ORT keeps no reference once a run ends, and a caller that reuses its buffers spares
      // allocating (and the garbage collector freeing) megabytes a run
      const transfer = Object.values(req.feeds).map((t) => t.data.buffer as ArrayBuffer);
      for (const [name, t] of Object.entries(results)) {
        const data = t.data as Float32Array | BigInt64Array;
        outputs[name] = { type: t.type as "float32", dims: [...t.dims], data };
        transfer.push(data.buffer as ArrayBuffer);
      }
      send({ id: req.id, outputs, inputs: req.feeds }, transfer);
    } catch (err) {
      send({ id: req.id, error: err instanceof Error ? err.message : String(err) });
    }
  });
} catch (err) {
  send({ failed: err instanceof Error ? err.message : String(err) });
}
