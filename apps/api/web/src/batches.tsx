import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, api, type BatchesPage, type BatchSummary, uploadExport } from "./api.js";
import { duration, pct, when } from "./format.js";
import { href } from "./router.js";

const FINAL = new Set(["done", "failed"]);
/** Poll often while something moves, rarely when all is still. */
const POLL_MOVING_MS = 1500;
const POLL_IDLE_MS = 10_000;

function Upload({ onUploaded }: { onUploaded: (batchId: string) => void }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState("");
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  async function send(list: FileList | null) {
    const files = [...(list ?? [])];
    if (!files.length) return;
    setMessage(`uploading ${files.length} part${files.length === 1 ? "" : "s"}…`);
    setProgress(0);
    try {
      const accepted = await uploadExport(files, setProgress);
      setMessage(`batch ${accepted.batchId} accepted`);
      onUploaded(accepted.batchId);
    } catch (err) {
      setMessage(`upload refused: ${(err as ApiError).message}`);
    } finally {
      setProgress(null);
    }
  }

  return (
    <section aria-labelledby="upload-title" class="panel">
      <h2 id="upload-title">Upload an export</h2>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target; the file input inside is the keyboard way */}
      <div
        class={`dropzone${over ? " over" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          void send(e.dataTransfer?.files ?? null);
        }}
      >
        <p>
          Drop the export's zip parts here (all parts of one export together), or a JSON file of posts, or
        </p>
        <label class="button" for="export-input">
          Choose files
        </label>
        <input
          id="export-input"
          ref={input}
          class="visually-hidden"
          type="file"
          accept=".zip,application/zip,.json,application/json"
          multiple
          onChange={(e) => void send((e.target as HTMLInputElement).files)}
        />
      </div>
      {progress !== null && (
        <progress max={1} value={progress} aria-label="upload progress">
          {pct(progress)}
        </progress>
      )}
      <p role="status" aria-live="polite" class="status">
        {message}
      </p>
    </section>
  );
}

function Counts({ counts }: { counts: Record<string, number> }) {
  return (
    <span class="counts">
      {Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([state, n]) => (
          <span key={state} class={`badge state-${state}`}>
            {state} {n}
          </span>
        ))}
    </span>
  );
}

function Row({ b }: { b: BatchSummary }) {
  const problems = [
    ...(b.error ? [b.error] : []),
    ...b.errors.map((e) => `${e.count} × ${e.reason}`),
    ...b.warnings,
  ];
  return (
    <tr data-batch={b.id} data-state={b.state}>
      <td>
        <a href={href(`/batches/${b.id}`)} class="mono">
          {b.id.slice(0, 8)}
        </a>
        <div class="muted">{when(b.createdAt)}</div>
      </td>
      <td>
        <span class={`badge state-${b.state}`}>{b.state}</span>
      </td>
      <td>
        <progress max={1} value={b.progress} aria-label={`batch ${b.id.slice(0, 8)} progress`} />{" "}
        <span class="batch-progress">{pct(b.progress)}</span>
        {b.state === "ingesting" && (
          <div class="muted">
            read {b.ingest.postsRead}
            {b.ingest.postsTotal !== null ? ` of ${b.ingest.postsTotal}` : ""}
          </div>
        )}
      </td>
      <td>
        <div>
          {b.totalPosts} posts{b.duplicatePosts ? ` (+${b.duplicatePosts} duplicates)` : ""}
        </div>
        <Counts counts={b.counts} />
      </td>
      <td class="muted">
        <div>ingest {duration(b.createdAt, b.ingestedAt)}</div>
        <div>
          total {FINAL.has(b.state) ? duration(b.createdAt, b.finishedAt) : `${duration(b.createdAt, null)}…`}
        </div>
      </td>
      <td>
        {problems.length ? (
          <ul class="problems">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        ) : (
          <span class="muted">none</span>
        )}
      </td>
      <td class="actions">
        <a class="button" href={href(`/batches/${b.id}`)}>
          Posts
        </a>
        <a class="button" href={href(`/review/${b.id}`, { order: "uncertainty", state: "done" })}>
          Review queue
        </a>
      </td>
    </tr>
  );
}

/** The key's batches, moving live: the list is polled while any batch is unfinished. */
export function Batches() {
  const [page, setPage] = useState<BatchesPage | null>(null);
  const [error, setError] = useState("");
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    clearTimeout(timer.current);
    try {
      const next = await api<BatchesPage>("/v1/batches?limit=50");
      setPage(next);
      setError("");
      const moving = next.batches.some((b) => !FINAL.has(b.state));
      timer.current = window.setTimeout(load, moving ? POLL_MOVING_MS : POLL_IDLE_MS);
    } catch (err) {
      setError((err as Error).message);
      timer.current = window.setTimeout(load, POLL_IDLE_MS);
    }
  }, []);

  useEffect(() => {
    void load();
    return () => clearTimeout(timer.current);
  }, [load]);

  return (
    <main>
      <h1>Batches</h1>
      <Upload onUploaded={() => void load()} />
      {error && <p class="error">{error}</p>}
      {page && !page.batches.length && <p>No batches yet: upload an export above.</p>}
      {page && page.batches.length > 0 && (
        <table class="batches">
          <caption class="visually-hidden">Your batches, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Batch</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Posts</th>
              <th scope="col">Timings</th>
              <th scope="col">Errors and warnings</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.batches.map((b) => (
              <Row key={b.id} b={b} />
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
