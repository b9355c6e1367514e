-- A predict worker runs a newly activated model on synthetic posts before it serves it; a version that fails that
-- warm-up is not served by that worker. The first worker to refuse it records when, which process and why, so that
-- the registry (GET /v1/models) says so and activating the version again takes `force` (which clears the refusal).
ALTER TABLE "model_versions" ADD COLUMN "refused_at" TIMESTAMPTZ(3),
  ADD COLUMN "refused_by" TEXT,
  ADD COLUMN "refused_reason" TEXT;
