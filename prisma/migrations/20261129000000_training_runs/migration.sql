-- Training runs as apps/trainer/src/run writes them: a state machine (queued, running, done, failed, skipped) with
-- the stage in progress, the data filters' report, the evaluation, the gate's decision, the error and a bounded
-- log tail, so a run can be watched while it runs. Nothing wrote this table before, so no row needs converting;
-- an unexpected state text still converts (to failed) instead of stopping the migration.

-- CreateEnum
CREATE TYPE "TrainingRunState" AS ENUM ('queued', 'running', 'done', 'failed', 'skipped');

-- AlterTable
ALTER TABLE "training_runs"
    ALTER COLUMN "state" TYPE "TrainingRunState"
        USING (CASE WHEN "state" IN ('queued', 'running', 'done', 'failed', 'skipped') THEN "state" ELSE 'failed' END)::"TrainingRunState",
    ALTER COLUMN "state" SET DEFAULT 'queued',
    ALTER COLUMN "dataset_id" DROP NOT NULL,
    ALTER COLUMN "started_at" DROP NOT NULL,
    ALTER COLUMN "started_at" DROP DEFAULT,
    ADD COLUMN "stage" TEXT,
    ADD COLUMN "filter_report" JSONB,
    ADD COLUMN "decision" JSONB,
    ADD COLUMN "error" TEXT,
    ADD COLUMN "timings" JSONB NOT NULL DEFAULT '{}',
    ADD COLUMN "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- CreateIndex
CREATE INDEX "training_runs_state_created_at_idx" ON "training_runs"("state", "created_at");
