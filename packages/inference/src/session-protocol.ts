/** Messages between an OrtSession and its worker thread. Tensor data travels as transferred ArrayBuffers. */
export type TensorType = "float32" | "int64";

export interface WireTensor {
  type: TensorType;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export type Feeds = Record<string, WireTensor>;

export interface SessionInit {
  modelPath: string;
  executionProviders: string[];
  intraOpThreads: number;
  spinWait: boolean;
}

export type WorkerRequest = { id: number; feeds: Feeds } | { id: number; dispose: true };

export type WorkerReply =
  /** `inputs`: the request's feeds, handed back (transferred) for the caller to fill again. */
  | { id: number; outputs: Feeds; inputs: Feeds }
  | { id: number; error: string }
  | { ready: true; inputNames: string[]; outputNames: string[]; provider: string }
  | { failed: string };
