// `npm run train -- [--force] [--scratch] [--epochs N] [--lr X] [--batch-size N] [--patience N] [--preset tiny|base]
// [--gate-k K] [--gate-margin M] [--min-posts N] [--min-new-labels N] [--candidates LIST] [--loss bce|softmax]`: one
// training run from the labeled rows
// (caption hashtags and human labels), with the trainer's configuration and these overrides (see run/training-run.ts).
// Prints the run's log as it goes, then {"runId", "state", ...}. Exits non-zero when the run failed or another run
// holds the lock.
import { parseArgs } from "node:util";
import { runTraining, type TrainingRunOptions } from "../run/training-run.js";
import { printResult, runCommand } from "./services.js";

const USAGE =
  "usage: train [--force] [--scratch] [--epochs N] [--lr X] [--batch-size N] [--patience N] [--preset tiny|base] " +
  "[--gate-k K] [--gate-margin M] [--min-posts N] [--min-new-labels N] [--candidates LIST] [--loss bce|softmax]";

const OPTIONS = {
  force: { type: "boolean", default: false },
  scratch: { type: "boolean", default: false },
  epochs: { type: "string" },
  lr: { type: "string" },
  "batch-size": { type: "string" },
  patience: { type: "string" },
  preset: { type: "string" },
  "gate-k": { type: "string" },
  "gate-margin": { type: "string" },
  "min-posts": { type: "string" },
  "min-new-labels": { type: "string" },
  candidates: { type: "string" },
  loss: { type: "string" },
  help: { type: "boolean", default: false },
} as const;

const { values } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
})();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
// numbers stay unchecked here: runTraining validates every setting (a bad one fails before anything starts)
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
const options: TrainingRunOptions = {
  force: values.force,
  scratch: values.scratch,
  epochs: num(values.epochs),
  lr: num(values.lr),
  batchSize: num(values["batch-size"]),
  patience: num(values.patience),
  preset: values.preset as TrainingRunOptions["preset"],
  gateK: num(values["gate-k"]),
  gateMargin: num(values["gate-margin"]),
  minPosts: num(values["min-posts"]),
  minNewLabels: num(values["min-new-labels"]),
  candidates: values.candidates,
  loss: values.loss as TrainingRunOptions["loss"],
  onLog: (line) => console.log(line),
};

await runCommand(async (services) => {
  const result = await runTraining(services, options);
  if (result.state === "skipped") return printResult(result);
  const k = String(result.decision.k);
  const f1 = (m: { metrics: Record<string, { f1: number }> } | null) =>
    m && Number(m.metrics[k]!.f1.toFixed(4));
  printResult({
    runId: result.runId,
    state: result.state,
    candidate: result.candidateId,
    activated: result.activated,
    active: result.activated ? result.candidateId : result.previousModelId,
    [`f1@${k}`]: {
      candidate: f1(result.evaluation.candidate),
      active: f1(result.evaluation.active),
      popularity: f1(result.evaluation.popularity),
    },
    reason: result.decision.reason,
    seconds: result.seconds,
  });
});
