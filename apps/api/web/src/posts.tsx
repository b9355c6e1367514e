import { useEffect, useState } from "preact/hooks";
import { api, type BatchSummary, type PostResult, type PostsPage, query } from "./api.js";
import { FILTER_KEYS, type Filters, filtersOf, KNOWN_FLAGS } from "./filters.js";
import { pct, score } from "./format.js";
import { href, navigate, type Route } from "./router.js";
import { Thumb } from "./thumb.js";
import { useVocabulary, VocabularyList } from "./vocabulary.js";

export const GRID_PAGE = 48;

function Chips({ post }: { post: PostResult }) {
  const labels = new Set(post.labels);
  return (
    <ul class="chips" aria-label="predicted hashtags">
      {post.hashtags.slice(0, 6).map((h) => (
        <li key={h.hashtag} class={`chip${labels.has(h.hashtag) ? " chip-on" : ""}`}>
          #{h.hashtag} <span class="chip-score">{score(h.score)}</span>
        </li>
      ))}
    </ul>
  );
}

function Card({ post, batchId, filters }: { post: PostResult; batchId: string; filters: Filters }) {
  return (
    <li class="card" data-post={post.id}>
      <a class="card-link" href={href(`/review/${batchId}`, { ...filters, post: post.id })}>
        <Thumb postId={post.id} size={256} alt={`post ${post.seq}`} />
        <span class="visually-hidden">Review post {post.seq}</span>
      </a>
      <div class="card-body">
        <div class="card-meta">
          <span class="mono">#{post.seq}</span> <span class={`badge state-${post.state}`}>{post.state}</span>
          {post.flags.map((f) => (
            <span key={f} class="badge flag">
              {f}
            </span>
          ))}
        </div>
        <p class="caption">{post.caption || <span class="muted">(no caption)</span>}</p>
        {post.error && <p class="error small">{post.error}</p>}
        <Chips post={post} />
      </div>
    </li>
  );
}

function FilterBar({ batchId, filters }: { batchId: string; filters: Filters }) {
  const vocabulary = useVocabulary();
  const set = (k: keyof Filters, v: string) =>
    navigate(`/batches/${batchId}`, { ...filters, [k]: v || undefined });
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="filters">
      <label>
        State
        <select value={filters.state ?? ""} onChange={(e) => set("state", e.currentTarget.value)}>
          <option value="">any</option>
          {["pending", "featurizing", "predicting", "done", "failed"].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Flag
        <select value={filters.flag ?? ""} onChange={(e) => set("flag", e.currentTarget.value)}>
          <option value="">any</option>
          {KNOWN_FLAGS.map((f) => (
            <option key={f}>{f}</option>
          ))}
        </select>
      </label>
      <label>
        Hashtag
        <input
          list="filter-vocabulary"
          value={filters.hashtag ?? ""}
          placeholder="e.g. sunset"
          onChange={(e) => set("hashtag", e.currentTarget.value.trim())}
        />
      </label>
      <VocabularyList id="filter-vocabulary" hashtags={vocabulary} />
      <label>
        Best score below
        <input
          type="number"
          min={0}
          max={1}
          step={0.05}
          value={filters.scoreBelow ?? ""}
          onChange={(e) => set("scoreBelow", e.currentTarget.value)}
        />
      </label>
      <label>
        Order
        <select value={filters.order ?? "seq"} onChange={(e) => set("order", e.currentTarget.value)}>
          <option value="seq">export order</option>
          <option value="uncertainty">least certain first</option>
        </select>
      </label>
    </form>
  );
}

/** A batch's posts as a grid of thumbnails with their predicted hashtags; keyset pages of GRID_PAGE posts. */
export function Posts({ route }: { route: Route }) {
  const batchId = route.parts[1]!;
  const filters = filtersOf(route.params);
  const key = FILTER_KEYS.map((k) => filters[k] ?? "").join("|");
  const [summary, setSummary] = useState<BatchSummary | null>(null);
  const [trail, setTrail] = useState<string[]>([]); // the `after` token of each page shown before this one
  const [after, setAfter] = useState<string | undefined>(undefined);
  const [page, setPage] = useState<PostsPage | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    setTrail([]);
    setAfter(undefined);
  }, [key]);

  useEffect(() => {
    void api<BatchSummary>(`/v1/batches/${batchId}`)
      .then(setSummary)
      .catch((e: Error) => setError(e.message));
  }, [batchId]);

  useEffect(() => {
    setPage(null);
    api<PostsPage>(`/v1/batches/${batchId}/posts${query({ ...filters, limit: GRID_PAGE, after })}`)
      .then((p) => {
        setPage(p);
        setError("");
      })
      .catch((e: Error) => setError(e.message));
  }, [batchId, key, after]);

  return (
    <main>
      <p>
        <a href={href("/batches")}>← Batches</a>
      </p>
      <h1>
        Posts of batch <span class="mono">{batchId.slice(0, 8)}</span>
      </h1>
      {summary && (
        <p class="muted">
          <span class={`badge state-${summary.state}`}>{summary.state}</span> {summary.totalPosts} posts,{" "}
          {pct(summary.progress)} finished ·{" "}
          <a href={href(`/review/${batchId}`, { order: "uncertainty", state: "done" })}>
            review the least certain first
          </a>
        </p>
      )}
      <FilterBar batchId={batchId} filters={filters} />
      {error && <p class="error">{error}</p>}
      {page && !page.posts.length && <p>No posts match these filters.</p>}
      {page && (
        <ul class="grid" aria-label="posts">
          {page.posts.map((p) => (
            <Card key={p.id} post={p} batchId={batchId} filters={filters} />
          ))}
        </ul>
      )}
      <nav class="pager" aria-label="pages">
        <button
          type="button"
          disabled={!trail.length}
          onClick={() => {
            setAfter(trail.at(-1) || undefined);
            setTrail(trail.slice(0, -1));
          }}
        >
          ← Previous page
        </button>
        <span class="muted">page {trail.length + 1}</span>
        <button
          type="button"
          disabled={!page?.next}
          onClick={() => {
            setTrail([...trail, after ?? ""]);
            setAfter(page?.next ?? undefined);
          }}
        >
          Next page →
        </button>
      </nav>
    </main>
  );
}
