import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api, label, type PostDetail, type PostResult, type PostsPage, query, session } from "./api.js";
import { FILTER_KEYS, filtersOf } from "./filters.js";
import { score } from "./format.js";
import { href, navigate, type Route } from "./router.js";
import { Thumb } from "./thumb.js";
import { useVocabulary, VocabularyList } from "./vocabulary.js";

const REVIEW_PAGE = 50;
/** How far the review looks for the post it was opened on before showing it alone. */
const MAX_PAGES_TO_FIND = 20;

export const SHORTCUTS: [string, string][] = [
  ["j / ↓", "next post"],
  ["k / ↑", "previous post"],
  ["l / → and h / ←", "move between predicted hashtags"],
  ["a", "accept the top k predicted hashtags"],
  ["x", "reject the focused hashtag"],
  ["Enter", "accept the focused hashtag"],
  ["i or /", "type a hashtag to add (autocompletes; Enter adds, Esc returns)"],
];

const isTyping = (t: EventTarget | null) =>
  t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement;

/**
 * One post at a time, reviewed with the keyboard: every action is one call of the labels API with the reviewer's
 * name. With `order=uncertainty` this is the queue: posts whose scores lie nearest 0.5 first.
 */
export function Review({ route }: { route: Route }) {
  const batchId = route.parts[1]!;
  const filters = filtersOf(route.params);
  const openOn = route.params.get("post");
  const key = FILTER_KEYS.map((k) => filters[k] ?? "").join("|");
  const vocabulary = useVocabulary();
  const [posts, setPosts] = useState<PostResult[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [index, setIndex] = useState(0);
  const [chip, setChip] = useState(0);
  const [topK, setTopK] = useState(3);
  const [rejected, setRejected] = useState<Record<string, string[]>>({});
  const [status, setStatus] = useState("");
  const [loading, setLoading] = useState(true);
  const addInput = useRef<HTMLInputElement>(null);
  const pane = useRef<HTMLElement>(null);

  const listing = (after?: string) =>
    api<PostsPage>(`/v1/batches/${batchId}/posts${query({ ...filters, limit: REVIEW_PAGE, after })}`);

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    (async () => {
      let all: PostResult[] = [];
      let token: string | null | undefined;
      for (let i = 0; i < MAX_PAGES_TO_FIND; i++) {
        const page = await listing(token ?? undefined);
        all = [...all, ...page.posts];
        token = page.next;
        if (!openOn || all.some((p) => p.id === openOn) || !token) break;
      }
      let at = openOn ? all.findIndex((p) => p.id === openOn) : 0;
      if (openOn && at < 0) {
        all = [await api<PostDetail>(`/v1/posts/${openOn}`), ...all];
        at = 0;
      }
      if (cancelled) return;
      setPosts(all);
      setNext(token ?? null);
      setIndex(Math.max(0, at));
      setChip(0);
      setLoading(false);
      pane.current?.focus();
    })().catch((e: Error) => !cancelled && setStatus(e.message));
    return () => {
      cancelled = true;
    };
  }, [batchId, key, openOn]);

  const post = posts[index];

  async function act(change: { add?: string[]; remove?: string[] }, said: string) {
    if (!post) return;
    try {
      const updated = await label(post.id, change);
      setPosts((ps) => ps.map((p) => (p.id === updated.id ? updated : p)));
      const removed = change.remove ?? [];
      setRejected((r) => ({
        ...r,
        [post.id]: [...(r[post.id] ?? []).filter((h) => !(change.add ?? []).includes(h)), ...removed],
      }));
      setStatus(said);
    } catch (e) {
      setStatus(`not saved: ${(e as Error).message}`);
    }
  }

  async function move(delta: number) {
    const target = index + delta;
    if (target < 0) return;
    if (target >= posts.length) {
      if (!next) return setStatus("end of the list");
      const page = await listing(next);
      setPosts((ps) => [...ps, ...page.posts]);
      setNext(page.next);
      if (!page.posts.length) return;
    }
    setIndex(target);
    setChip(0);
  }

  // registered again after every render, before the next key can arrive: a plain effect waits for the next frame,
  // and a key pressed before it would act on the chip focused the render before
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (isTyping(e.target)) {
        if (e.key === "Escape") {
          (e.target as HTMLElement).blur();
          pane.current?.focus();
        }
        return;
      }
      if (!post) return;
      const ranked = post.hashtags;
      const focused = ranked[chip]?.hashtag;
      const keys: Record<string, () => void> = {
        j: () => void move(1),
        ArrowDown: () => void move(1),
        k: () => void move(-1),
        ArrowUp: () => void move(-1),
        l: () => setChip(Math.min(chip + 1, ranked.length - 1)),
        ArrowRight: () => setChip(Math.min(chip + 1, ranked.length - 1)),
        h: () => setChip(Math.max(chip - 1, 0)),
        ArrowLeft: () => setChip(Math.max(chip - 1, 0)),
        a: () => {
          const top = ranked.slice(0, topK).map((h) => h.hashtag);
          void act({ add: top }, `accepted ${top.map((h) => `#${h}`).join(" ")}`);
        },
        x: () => focused && void act({ remove: [focused] }, `rejected #${focused}`),
        Enter: () => focused && void act({ add: [focused] }, `accepted #${focused}`),
        i: () => addInput.current?.focus(),
        "/": () => addInput.current?.focus(),
      };
      const run = keys[e.key];
      if (run) {
        e.preventDefault();
        run();
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  });

  const queue = filters.order === "uncertainty";
  const labels = new Set(post?.labels ?? []);
  const gone = new Set(post ? (rejected[post.id] ?? []) : []);

  return (
    <main>
      <p>
        <a href={href(`/batches/${batchId}`, filters)}>← Posts of the batch</a>
      </p>
      <div class="review-head">
        <h1>{queue ? "Review queue: least certain first" : "Review"}</h1>
        <label class="inline">
          <input
            type="checkbox"
            checked={queue}
            onChange={(e) =>
              navigate(
                `/review/${batchId}`,
                e.currentTarget.checked
                  ? { ...filters, order: "uncertainty", state: "done" }
                  : { ...filters, order: undefined },
              )
            }
          />{" "}
          Queue mode (scores nearest 0.5 first)
        </label>
        <label class="inline">
          Top k{" "}
          <input
            type="number"
            min={1}
            max={10}
            value={topK}
            class="narrow"
            onChange={(e) => setTopK(Number(e.currentTarget.value) || 1)}
          />
        </label>
        <span class="muted">reviewer: {session.reviewer() || "(unnamed)"}</span>
      </div>
      {loading && <p>Loading…</p>}
      {!loading && !post && <p>No posts to review here.</p>}
      {post && (
        <section
          ref={pane}
          tabIndex={-1}
          class="review"
          aria-label={`post ${post.seq}`}
          data-post={post.id}
          data-testid="review-pane"
        >
          <div class="review-image">
            <Thumb postId={post.id} size={512} alt={`post ${post.seq}`} />
          </div>
          <div class="review-body">
            <p class="muted">
              post {index + 1} of {posts.length}
              {next ? "+" : ""} · seq <span class="mono">{post.seq}</span> ·{" "}
              <span class={`badge state-${post.state}`}>{post.state}</span>
              {post.flags.map((f) => (
                <span key={f} class="badge flag">
                  {f}
                </span>
              ))}
            </p>
            <p class="caption big">{post.caption || <span class="muted">(no caption)</span>}</p>
            <h2>Predicted hashtags</h2>
            <ul class="chips" aria-label="predicted hashtags">
              {post.hashtags.map((h, i) => {
                const state = labels.has(h.hashtag)
                  ? "accepted"
                  : gone.has(h.hashtag)
                    ? "rejected"
                    : "suggested";
                return (
                  <li key={h.hashtag}>
                    <button
                      type="button"
                      class={`chip chip-${state}${i === chip ? " chip-focus" : ""}`}
                      aria-current={i === chip}
                      aria-label={`#${h.hashtag}, score ${score(h.score)}, ${state}`}
                      data-hashtag={h.hashtag}
                      onClick={() => {
                        setChip(i);
                        void act(
                          state === "accepted" ? { remove: [h.hashtag] } : { add: [h.hashtag] },
                          `${state === "accepted" ? "rejected" : "accepted"} #${h.hashtag}`,
                        );
                      }}
                    >
                      #{h.hashtag} <span class="chip-score">{score(h.score)}</span>
                    </button>
                  </li>
                );
              })}
            </ul>
            <h2>Labels</h2>
            <ul class="chips" aria-label="labels" data-testid="labels">
              {post.labels.map((l) => (
                <li key={l} class="chip chip-accepted">
                  #{l}{" "}
                  <button
                    type="button"
                    class="chip-remove"
                    aria-label={`remove #${l}`}
                    onClick={() => void act({ remove: [l] }, `removed #${l}`)}
                  >
                    ×
                  </button>
                </li>
              ))}
              {!post.labels.length && <li class="muted">none yet</li>}
            </ul>
            <form
              class="add"
              onSubmit={(e) => {
                e.preventDefault();
                const value = addInput.current?.value.trim().replace(/^#/, "") ?? "";
                if (!value) return;
                void act({ add: [value] }, `added #${value}`);
                if (addInput.current) addInput.current.value = "";
                pane.current?.focus();
              }}
            >
              <label for="add-hashtag">Add a hashtag</label>
              <input
                id="add-hashtag"
                ref={addInput}
                list="review-vocabulary"
                autocomplete="off"
                placeholder="press i, then type"
              />
              <VocabularyList id="review-vocabulary" hashtags={vocabulary} />
              <button type="submit">Add</button>
            </form>
            <p role="status" aria-live="polite" class="status" data-testid="review-status">
              {status}
            </p>
          </div>
        </section>
      )}
      <details class="shortcuts">
        <summary>Keyboard shortcuts</summary>
        <dl>
          {SHORTCUTS.map(([k, what]) => (
            <div key={k}>
              <dt>
                <kbd>{k}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      </details>
    </main>
  );
}
