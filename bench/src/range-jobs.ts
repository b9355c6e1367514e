import { jobIds, POSTS_PER_JOB, postRangeOf } from "@lxtag/contracts";

/** Predict jobs for a batch's posts `seq` 0 to `posts - 1`: one per range, as the feature workers add them. */
export const predictRangeJobs = (batchId: string, posts: number) =>
  Array.from({ length: Math.ceil(posts / POSTS_PER_JOB) }, (_, i) => {
    const range = postRangeOf(batchId, i * POSTS_PER_JOB);
    return { name: "predict", data: range, opts: { jobId: jobIds.predict(range) } };
  });
