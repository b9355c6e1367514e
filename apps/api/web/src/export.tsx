import { useEffect, useState } from "preact/hooks";
import { api, type BatchesPage, download } from "./api.js";
import { when } from "./format.js";

/** Downloads through fetch and a blob: the key is a header, so a plain link could not carry it. */
export function Export() {
  const [page, setPage] = useState<BatchesPage | null>(null);
  const [message, setMessage] = useState("");
  useEffect(() => {
    api<BatchesPage>("/v1/batches?limit=100")
      .then(setPage)
      .catch((e: Error) => setMessage(e.message));
  }, []);
  const get = (path: string, name: string) =>
    download(path, name).then(
      () => setMessage(`downloaded ${name}`),
      (e: Error) => setMessage(`download failed: ${e.message}`),
    );
  return (
    <main>
      <h1>Export</h1>
      <p>
        Results: every post with its ranked hashtags (CSV: one row per hashtag; NDJSON: one post per line).
        Corrected labels: the reviewers' additions and removals (CSV).
      </p>
      <p role="status" aria-live="polite" class="status">
        {message}
      </p>
      <table>
        <caption class="visually-hidden">Exports per batch</caption>
        <thead>
          <tr>
            <th scope="col">Batch</th>
            <th scope="col">State</th>
            <th scope="col">Posts</th>
            <th scope="col">Downloads</th>
          </tr>
        </thead>
        <tbody>
          {page?.batches.map((b) => (
            <tr key={b.id}>
              <td>
                <span class="mono">{b.id.slice(0, 8)}</span> <span class="muted">{when(b.createdAt)}</span>
              </td>
              <td>
                <span class={`badge state-${b.state}`}>{b.state}</span>
              </td>
              <td>{b.totalPosts}</td>
              <td class="actions">
                <button
                  type="button"
                  onClick={() => void get(`/v1/batches/${b.id}/results?format=csv`, `results-${b.id}.csv`)}
                >
                  Results CSV
                </button>
                <button
                  type="button"
                  onClick={() =>
                    void get(`/v1/batches/${b.id}/results?format=ndjson`, `results-${b.id}.ndjson`)
                  }
                >
                  Results NDJSON
                </button>
                <button
                  type="button"
                  onClick={() => void get(`/v1/batches/${b.id}/labels`, `labels-${b.id}.csv`)}
                >
                  Corrected labels CSV
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
