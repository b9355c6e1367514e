import { useEffect, useState } from "preact/hooks";
import {
  type ApiError,
  api,
  type ModelDetail,
  type ModelVersion,
  type TrainingRunDetail,
  type TrainingRunsPage,
} from "./api.js";
import { findScoresByK, ScoresChart } from "./chart.js";
import { duration, score, when } from "./format.js";

const ADMIN_NEEDED =
  "This needs an admin API key: sign in with one to see training runs and to activate models.";

function Metrics({ model }: { model: ModelVersion }) {
  const scores = findScoresByK(model.metrics);
  if (scores) return <ScoresChart scores={scores} title={`${model.id}: scores at k`} />;
  const flat = Object.entries(model.metrics).filter(([, v]) => typeof v === "number");
  return flat.length ? (
    <dl class="inline-dl">
      {flat.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{score(v as number)}</dd>
        </div>
      ))}
    </dl>
  ) : (
    <p class="muted">no metrics recorded</p>
  );
}

function Run({ id }: { id: string }) {
  const [run, setRun] = useState<TrainingRunDetail | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<TrainingRunDetail>(`/v1/training-runs/${id}`)
      .then(setRun)
      .catch((e: Error) => setError(e.message));
  }, [id]);
  if (error) return <p class="error">{error}</p>;
  if (!run) return <p>Loading…</p>;
  const evaluation = run.metrics.evaluation;
  const selection = run.metrics.selection;
  return (
    <div class="run-detail">
      {evaluation && (
        <ScoresChart
          scores={evaluation.candidate.metrics}
          compare={evaluation.active?.metrics ?? null}
          title={`candidate ${evaluation.candidate.id} on ${evaluation.posts} test posts`}
        />
      )}
      {run.filterReport && (
        <table>
          <caption>
            Filter report{run.filterReport.preset ? ` (preset ${run.filterReport.preset})` : ""}
          </caption>
          <thead>
            <tr>
              <th scope="col">filter</th>
              <th scope="col">posts in</th>
              <th scope="col">posts out</th>
              <th scope="col">hashtags</th>
              <th scope="col">note</th>
            </tr>
          </thead>
          <tbody>
            {run.filterReport.steps.map((s) => (
              <tr key={s.filter}>
                <td>{s.filter}</td>
                <td>{s.in}</td>
                <td>{s.out}</td>
                <td>{s.hashtagsIn !== undefined ? `${s.hashtagsIn} → ${s.hashtagsOut}` : ""}</td>
                <td>{[s.note, s.remedy].filter(Boolean).join(" · ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selection && (
        <table>
          <caption>
            Model selection (F1@{selection.k} on validation): chose {selection.chosen}. {selection.reason}
          </caption>
          <thead>
            <tr>
              <th scope="col">candidate</th>
              <th scope="col">loss</th>
              <th scope="col">mask</th>
              <th scope="col">score</th>
              <th scope="col">seconds</th>
            </tr>
          </thead>
          <tbody>
            {selection.candidates.map((c) => (
              <tr key={c.name} class={c.name === selection.chosen ? "chosen" : ""}>
                <td>{c.name}</td>
                <td>{c.loss}</td>
                <td>{c.mask ? "yes" : "no"}</td>
                <td>{score(c.score)}</td>
                <td>{c.seconds.toFixed(0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!run.filterReport && !selection && !evaluation && <p class="muted">No reports recorded yet.</p>}
    </div>
  );
}

function TrainingRuns() {
  const [page, setPage] = useState<TrainingRunsPage | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    api<TrainingRunsPage>("/v1/training-runs?limit=20")
      .then(setPage)
      .catch((e: ApiError) => setError(e.status === 403 ? ADMIN_NEEDED : e.message));
  }, []);
  return (
    <section aria-labelledby="runs-title">
      <h2 id="runs-title">Training runs</h2>
      {error && <p class="notice">{error}</p>}
      {page && !page.runs.length && <p>No training runs yet.</p>}
      {page?.runs.map((r) => (
        <details
          key={r.id}
          class="run"
          onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && setOpen(r.id)}
        >
          <summary>
            <span class={`badge state-${r.state}`}>{r.state}</span>{" "}
            <span class="mono">{r.id.slice(0, 8)}</span> {when(r.createdAt)} · {r.stage ?? ""} ·{" "}
            {duration(r.startedAt, r.finishedAt)}
            {r.decision && ` · ${r.decision.promote ? "promoted" : "not promoted"}: ${r.decision.reason}`}
            {r.error && <span class="error"> · {r.error}</span>}
          </summary>
          {open === r.id && <Run id={r.id} />}
        </details>
      ))}
    </section>
  );
}

/** The model registry with each version's scores at k, the active one, activation, and the training runs. */
export function Models() {
  const [models, setModels] = useState<ModelVersion[] | null>(null);
  const [message, setMessage] = useState("");
  const load = () =>
    api<ModelVersion[]>("/v1/models")
      .then(setModels)
      .catch((e: Error) => setMessage(e.message));
  useEffect(() => {
    void load();
  }, []);

  async function activate(m: ModelVersion) {
    const { id, refusal } = m;
    const serve = m.state === "active" ? "" : ` It becomes the active model: the one active now is retired.`;
    const question = refusal
      ? `A predict worker refused model ${id} (${refusal.reason ?? "it failed its warm-up run"}). Try it again?${serve} ` +
        "Workers warm it up anew, and those that fail again keep serving the model they served before."
      : `Serve model ${id}? The active model is retired, and new posts are predicted by ${id}.`;
    if (!confirm(question)) return;
    try {
      const query = refusal ? "?force=true" : "";
      await api<ModelDetail>(`/v1/models/${encodeURIComponent(id)}/activate${query}`, { method: "POST" });
      setMessage(`${id} is now the active model`);
      await load();
    } catch (e) {
      const err = e as ApiError;
      setMessage(err.status === 403 ? ADMIN_NEEDED : `not activated: ${err.message}`);
    }
  }

  return (
    <main>
      <h1>Models</h1>
      <p role="status" aria-live="polite" class="notice" hidden={!message}>
        {message}
      </p>
      {models && !models.length && <p>No model versions visible to this key yet.</p>}
      <ul class="models">
        {models?.map((m) => (
          <li key={m.id} class={`model${m.state === "active" ? " model-active" : ""}`}>
            <div class="model-head">
              <h2 class="mono">{m.id}</h2>
              <span class={`badge state-${m.state}`}>{m.state}</span>
              <span class="muted">
                {m.architecture} · {m.hashtags} hashtags · detector {m.detectorId} · created{" "}
                {when(m.createdAt)}
                {m.activatedAt ? ` · activated ${when(m.activatedAt)}` : ""}
              </span>
              {(m.state !== "active" || m.refusal) && (
                <button type="button" onClick={() => void activate(m)}>
                  {m.refusal ? "Try again…" : "Activate…"}
                </button>
              )}
            </div>
            {m.refusal && (
              <p class="error">
                Refused by a predict worker{m.refusal.by ? ` (${m.refusal.by})` : ""} {when(m.refusal.at)}: it
                failed its warm-up run{m.refusal.reason ? ` (${m.refusal.reason})` : ""}
              </p>
            )}
            <Metrics model={m} />
          </li>
        ))}
      </ul>
      <TrainingRuns />
    </main>
  );
}
