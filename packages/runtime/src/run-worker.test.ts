// runWorker on the running Redis, a fresh prefix and queue per test.
import { randomUUID } from "node:crypto";
import { type Job, type Queue, UnrecoverableError, type Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createLogger,
  createQueue,
  parseEnv,
  retriesAfter,
  retryPolicy,
  runWorker,
  serviceEnvSchema,
} from "./index.js";

const schema = z.object({ postId: z.uuid() });
type Payload = z.infer<typeof schema>;
const log = createLogger("run-worker-test", "silent");
const FAST_RETRIES = { attempts: 3, backoff: { type: "fixed", delay: 20 } };

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

function setup(
  process: (data: Payload, job: Job) => Promise<string>,
  onFinalFailure?: (data: Payload, err: Error) => Promise<void>,
  env: Record<string, string> = {},
) {
  const config = parseEnv(serviceEnvSchema, {
    ...globalThis.process.env,
    LXTAG_QUEUE_PREFIX: `lxtag-test-${randomUUID().slice(0, 8)}`,
    ...env,
  });
  const name = `run-worker-${randomUUID().slice(0, 8)}`;
  const queue: Queue = createQueue(name, config.LXTAG_REDIS_URL, config.LXTAG_QUEUE_PREFIX);
  const worker: Worker = runWorker({
    queue: name,
    schema,
    config,
    concurrency: 1,
    log,
    process: (data, { job }) => process(data, job),
    onFinalFailure,
  });
  // closed in this order after the test: the worker, then the queue with everything it left in Redis
  open.push({ close: () => queue.obliterate({ force: true }).then(() => queue.close()) }, worker);
  const settled = (jobId: string) =>
    new Promise<"completed" | "failed">((resolve) => {
      worker.on("completed", (job) => job.id === jobId && resolve("completed"));
      worker.on("failed", (job) => job?.id === jobId && job.finishedOn !== undefined && resolve("failed"));
    });
  return { queue, worker, settled };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runWorker", () => {
  it("fails a payload its schema refuses at once, without running the job or retrying it", async () => {
    let ran = 0;
    const finals: unknown[] = [];
    const { queue, settled } = setup(
      async () => {
        ran += 1;
        return "done";
      },
      async (data) => {
        finals.push(data);
      },
    );
    const job = await queue.add("x", { postId: "not-a-uuid" }, { ...FAST_RETRIES, jobId: "bad" });
    expect(await settled("bad")).toBe("failed");
    await sleep(200); // a retry would have run by now
    const after = (await queue.getJob(job.id!))!;
    expect(await after.getState()).toBe("failed");
    expect(after.attemptsMade).toBe(1);
    expect(after.failedReason).toMatch(/^bad run-worker-\w+ payload: /);
    expect(ran).toBe(0);
    expect(finals).toEqual([]); // nothing identifies the post to record it on
  });

  it("fails an UnrecoverableError at once and records the final failure once", async () => {
    const postId = randomUUID();
    const finals: [Payload, string][] = [];
    let ran = 0;
    const { queue, settled } = setup(
      async () => {
        ran += 1;
        throw new UnrecoverableError("this image can never work");
      },
      async (data, err) => {
        finals.push([data, err.message]);
      },
    );
    await queue.add("x", { postId }, { ...FAST_RETRIES, jobId: "unrecoverable" });
    expect(await settled("unrecoverable")).toBe("failed");
    await sleep(200);
    expect(ran).toBe(1);
    expect(finals).toEqual([[{ postId }, "this image can never work"]]);
  });

  it("retries a throwing job with backoff, then records its final failure exactly once", async () => {
    const postId = randomUUID();
    const finals: Payload[] = [];
    const attempts: number[] = [];
    const { queue, settled } = setup(
      async (_data, job) => {
        attempts.push(job.attemptsMade);
        throw new Error("S3 is down");
      },
      async (data) => {
        finals.push(data);
      },
    );
    await queue.add("x", { postId }, { ...FAST_RETRIES, jobId: "flaky" });
    expect(await settled("flaky")).toBe("failed");
    await sleep(200);
    expect(attempts).toEqual([0, 1, 2]);
    expect(finals).toEqual([{ postId }]);
  });

  it("completes a job that succeeds on a retry, with no failure recorded", async () => {
    const finals: Payload[] = [];
    let calls = 0;
    const { queue, settled } = setup(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error("Postgres restarting");
        return "done";
      },
      async (data) => {
        finals.push(data);
      },
    );
    await queue.add("x", { postId: randomUUID() }, { ...FAST_RETRIES, jobId: "recovers" });
    expect(await settled("recovers")).toBe("completed");
    expect(calls).toBe(3);
    expect(await (await queue.getJob("recovers"))!.returnvalue).toBe("done");
    expect(finals).toEqual([]);
  });

  // the default job options with a policy shrunk to milliseconds: backoff 10, 20, 40, 40 ... ms, budget 300 ms
  const FAST_POLICY = {
    LXTAG_RETRY_BASE_DELAY_MS: "10",
    LXTAG_RETRY_MAX_DELAY_MS: "40",
    LXTAG_RETRY_BUDGET_MS: "300",
    LXTAG_RETRY_ATTEMPTS: "2",
  };
  const refused = () =>
    Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });

  it("retries an infrastructure error past the attempts other errors get, and the job completes", async () => {
    let calls = 0;
    const { queue, settled } = setup(
      async () => {
        calls += 1;
        if (calls <= 6) throw refused();
        return "done";
      },
      undefined,
      FAST_POLICY,
    );
    await queue.add("x", { postId: randomUUID() }, { jobId: "outage" });
    expect(await settled("outage")).toBe("completed");
    expect(calls).toBe(7);
  });

  it("gives an infrastructure error its budget, then fails the job and records it once", async () => {
    const finals: string[] = [];
    let calls = 0;
    const { queue, settled } = setup(
      async () => {
        calls += 1;
        throw refused();
      },
      async (_data, err) => {
        finals.push(err.message);
      },
      FAST_POLICY,
    );
    await queue.add("x", { postId: randomUUID() }, { jobId: "long-outage" });
    expect(await settled("long-outage")).toBe("failed");
    await sleep(100);
    // nominal backoff before failure n: 0, 10, 30, 70, 110, ... 270, then 310 >= 300: ten attempts
    expect(calls).toBe(10);
    expect(finals).toEqual(["connect ECONNREFUSED 127.0.0.1:5432"]);
  });

  it("gives any other error LXTAG_RETRY_ATTEMPTS attempts", async () => {
    let calls = 0;
    const { queue, settled } = setup(
      async () => {
        calls += 1;
        throw new Error("a bug");
      },
      undefined,
      FAST_POLICY,
    );
    await queue.add("x", { postId: randomUUID() }, { jobId: "bug" });
    expect(await settled("bug")).toBe("failed");
    await sleep(100);
    expect(calls).toBe(2);
    expect((await queue.getJob("bug"))!.failedReason).toBe("a bug");
  });

  it("tells an attempt whether BullMQ retries it if it fails with a given error (retriesAfter)", async () => {
    const policy = retryPolicy(parseEnv(serviceEnvSchema, { ...process.env, ...FAST_POLICY }));
    const said: boolean[][] = [];
    const { queue, settled } = setup(
      async (_data, job) => {
        const bug = new Error("a bug");
        said.push([bug, refused(), new UnrecoverableError("never")].map((e) => retriesAfter(policy, job, e)));
        throw bug;
      },
      undefined,
      FAST_POLICY,
    );
    await queue.add("x", { postId: randomUUID() }, { jobId: "told" });
    expect(await settled("told")).toBe("failed");
    // a bug gets 2 attempts (what BullMQ did with this one), an outage its budget, an unrecoverable error none
    expect(said).toEqual([
      [true, true, false],
      [false, true, false],
    ]);
    // a job queued with BullMQ's own backoff is retried until its attempts run out, whatever the error
    said.length = 0;
    await queue.add("x", { postId: randomUUID() }, { jobId: "fixed", ...FAST_RETRIES });
    expect(await settled("fixed")).toBe("failed");
    expect(said).toEqual([
      [true, true, false],
      [true, true, false],
      [false, false, false],
    ]);
  });

  it("records a final failure through an outage of the database it is written to", async () => {
    const recorded: string[] = [];
    let writes = 0;
    const { queue, settled } = setup(
      async () => {
        throw new UnrecoverableError("not an image");
      },
      async (data) => {
        writes += 1;
        if (writes <= 3)
          throw Object.assign(new Error("the database system is shutting down"), { code: "57P03" });
        recorded.push(data.postId);
      },
      FAST_POLICY,
    );
    const postId = randomUUID();
    await queue.add("x", { postId }, { jobId: "record" });
    expect(await settled("record")).toBe("failed");
    await sleep(300);
    expect(writes).toBe(4);
    expect(recorded).toEqual([postId]);
  });
});
