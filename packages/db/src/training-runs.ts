import { randomUUID } from "node:crypto";
import type { Db } from "./client.js";
import type { TrainingRun } from "./generated/client.js";

/** Lines of a run's log kept in its row: enough to see how it ended, bounded however long it ran. */
export const TRAINING_LOG_TAIL_LINES = 200;

export type TrainingRunOutcome = "done" | "failed" | "skipped";

/** What a run records as it goes; each field is written when given. */
export interface TrainingRunFields {
  datasetId?: string;
  modelVersionId?: string;
  /** JSON values, as plain objects. */
  filterReport?: object;
  metrics?: object;
  decision?: object;
  /** Seconds per finished stage. */
  timings?: Record<string, number>;
}

/** The training runs' history: one row per run, written at its start and updated as it goes. */
export class TrainingRuns {
  constructor(private readonly db: Db) {}

  /**
   * A new run: `running` (started now) for a run that starts at once, `queued` for one a scheduler or the API
   * records before a trainer takes it (see `start`).
   */
  create(params: object, options: { id?: string; state?: "queued" | "running" } = {}): Promise<TrainingRun> {
    const state = options.state ?? "running";
    return this.db.prisma.trainingRun.create({
      data: {
        id: options.id ?? randomUUID(),
        state,
        params,
        startedAt: state === "running" ? new Date() : null,
      },
    });
  }

  /**
   * A queued run starts, `params` merged over those it was queued with (who asked for it stays recorded); null when
   * it is not queued (unknown, or already taken).
   */
  async start(id: string, params: object): Promise<TrainingRun | null> {
    const r = await this.db.pool.query(
      `UPDATE training_runs SET state = 'running', started_at = now(), params = params || $2::jsonb
       WHERE id = $1 AND state = 'queued'`,
      [id, JSON.stringify(params)],
    );
    return r.rowCount ? this.find(id) : null;
  }

  /** The stage now in progress, with the seconds each finished stage took. */
  async stage(id: string, stage: string, timings?: Record<string, number>): Promise<void> {
    await this.db.prisma.trainingRun.update({
      where: { id },
      data: { stage, ...(timings ? { timings } : {}) },
    });
  }

  async update(id: string, fields: TrainingRunFields): Promise<void> {
    await this.db.prisma.trainingRun.update({ where: { id }, data: fields });
  }

  /** Appends lines to the run's log, keeping the last {@link TRAINING_LOG_TAIL_LINES} lines. */
  async appendLog(id: string, lines: string[]): Promise<void> {
    if (!lines.length) return;
    await this.db.pool.query(
      `UPDATE training_runs SET log = (
         SELECT string_agg(l, E'\\n' ORDER BY i) FROM (
           SELECT l, i FROM unnest(string_to_array(concat_ws(E'\\n', log, $2::text), E'\\n')) WITH ORDINALITY t(l, i)
           ORDER BY i DESC LIMIT $3) tail)
       WHERE id = $1`,
      [id, lines.join("\n"), TRAINING_LOG_TAIL_LINES],
    );
  }

  /** The run ended: done, failed (with its error) or skipped (with its reason, as the error text). */
  async finish(
    id: string,
    state: TrainingRunOutcome,
    fields: TrainingRunFields & { error?: string | null } = {},
  ): Promise<TrainingRun> {
    return this.db.prisma.trainingRun.update({
      where: { id },
      data: { ...fields, state, finishedAt: new Date() },
    });
  }

  /**
   * Runs still marked running whose process ended without finishing them (the caller holds the run lock, so no
   * live process runs them) become failed with `reason`; returns their ids.
   */
  async failInterrupted(reason: string): Promise<string[]> {
    const r = await this.db.pool.query<{ id: string }>(
      `UPDATE training_runs SET state = 'failed', error = $1, finished_at = now()
       WHERE state = 'running' RETURNING id`,
      [reason],
    );
    return r.rows.map((row) => row.id);
  }

  /** The last run that finished successfully (state done), whether or not its candidate was promoted. */
  lastDone(): Promise<TrainingRun | null> {
    return this.db.prisma.trainingRun.findFirst({ where: { state: "done" }, orderBy: { createdAt: "desc" } });
  }

  find(id: string): Promise<TrainingRun | null> {
    return this.db.prisma.trainingRun.findUnique({ where: { id } });
  }

  /** Newest first (ties by id); `after`: the runs listed after that one. */
  list(limit = 50, after?: string): Promise<TrainingRun[]> {
    return this.db.prisma.trainingRun.findMany({
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
      ...(after ? { cursor: { id: after }, skip: 1 } : {}),
    });
  }
}
