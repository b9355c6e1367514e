// The REST API as the page calls it: the key from sessionStorage in a header (never in a URL), errors as ApiError.
import type {
  acceptedBatchSchema,
  batchesPageSchema,
  batchSummarySchema,
  modelDetailSchema,
  modelVersionSchema,
  postDetailSchema,
  postResultSchema,
  postsPageSchema,
  trainingRunDetailSchema,
  trainingRunsPageSchema,
  vocabularySchema,
} from "@lxtag/contracts";
import type { z } from "zod";

// wire types: dates are ISO strings until something parses them
export type BatchSummary = z.input<typeof batchSummarySchema>;
export type BatchesPage = z.input<typeof batchesPageSchema>;
export type AcceptedBatch = z.input<typeof acceptedBatchSchema>;
export type PostResult = z.input<typeof postResultSchema>;
export type PostDetail = z.input<typeof postDetailSchema>;
export type PostsPage = z.input<typeof postsPageSchema>;
export type ModelVersion = z.input<typeof modelVersionSchema>;
export type ModelDetail = z.input<typeof modelDetailSchema>;
export type TrainingRunsPage = z.input<typeof trainingRunsPageSchema>;
export type TrainingRunDetail = z.input<typeof trainingRunDetailSchema>;
export type Vocabulary = z.input<typeof vocabularySchema>;

const KEY = "lxtag.apiKey";
const REVIEWER = "lxtag.reviewer";

export const session = {
  key: () => sessionStorage.getItem(KEY),
  reviewer: () => sessionStorage.getItem(REVIEWER) ?? "",
  signIn(key: string, reviewer: string) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(REVIEWER, reviewer);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
};

/** An answer other than 2xx: the API's error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { "x-api-key": session.key() ?? "", ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  let body: { error?: string; message?: string } = {};
  try {
    body = await res.json();
  } catch {
    // a proxy's HTML page, say: the status says enough
  }
  if (res.status === 401) session.signOut();
  return new ApiError(res.status, body.error ?? `http_${res.status}`, body.message ?? res.statusText);
}

/** GET (or another method with a JSON body) of a JSON route. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers: headers(init.body === undefined ? {} : { "content-type": "application/json" }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A binary answer (a thumbnail, an export) as a Blob, fetched with the key. */
export async function blob(path: string): Promise<Blob> {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/** Saves an authenticated download under `filename` (the key cannot ride in a link's URL). */
export async function download(path: string, filename: string): Promise<void> {
  const url = URL.createObjectURL(await blob(path));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Uploads an export's zip parts, or one JSON file of posts, as one batch with XMLHttpRequest, whose upload events
 * report progress (fetch has none).
 */
export function uploadExport(files: File[], onProgress: (fraction: number) => void): Promise<AcceptedBatch> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append("file", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/batches");
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload did not reach the API"));
    xhr.onload = () => {
      let body: { error?: string; message?: string } & Partial<AcceptedBatch> = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON: the status says enough
      }
      if (xhr.status === 202) resolve(body as AcceptedBatch);
      else
        reject(new ApiError(xhr.status, body.error ?? `http_${xhr.status}`, body.message ?? xhr.statusText));
    };
    xhr.send(form);
  });
}

/** Labels one post: each review action is one call of the labels API, with the reviewer's name. */
export function label(postId: string, change: { add?: string[]; remove?: string[] }): Promise<PostDetail> {
  const reviewer = session.reviewer();
  return api<PostDetail>(`/v1/posts/${postId}/labels`, {
    method: "POST",
    body: { add: change.add ?? [], remove: change.remove ?? [], ...(reviewer ? { reviewer } : {}) },
  });
}

/** The query string of a posts listing, without empty values. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
