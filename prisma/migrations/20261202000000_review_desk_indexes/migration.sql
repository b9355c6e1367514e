-- The review desk pages a batch's posts in seq order whatever their state: (batch_id, state, seq) serves one state's
-- pages only, so without this index a page of a 100,000-post batch sorts the whole batch.
CREATE INDEX "posts_batch_id_seq_idx" ON "posts"("batch_id", "seq");
