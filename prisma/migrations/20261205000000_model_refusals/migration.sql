-- A predict worker runs a newly activated model on synthetic posts before it serves it; a version that fails that
-- warm-up is not served. The first worker to refuse it records when, which process and why, so that the registry
-- (GET /v1/models) says so and the version is not activated again: its bundle never changes.
ALTER TABLE "model_versions" ADD COLUMN "refused_at" TIMESTAMPTZ(3),
  ADD COLUMN "refused_by" TEXT,
  ADD COLUMN "refused_reason" TEXT;
