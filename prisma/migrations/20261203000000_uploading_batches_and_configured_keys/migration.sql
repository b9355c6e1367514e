-- A multipart upload creates its batch (state `uploading`) before it writes its first part to S3, so parts left by
-- an upload that never finished (the API killed mid-stream) belong to a batch the reconciler can find and clean up.
ALTER TYPE "BatchState" ADD VALUE 'uploading' BEFORE 'queued';

-- Keys registered from the API's configuration (LXTAG_API_KEYS, LXTAG_ADMIN_API_KEYS) are valid only while an API's
-- configuration lists them; keys made with `npm run keys -- create` stay valid until revoked.
ALTER TABLE "api_keys" ADD COLUMN "configured" BOOLEAN NOT NULL DEFAULT false;
