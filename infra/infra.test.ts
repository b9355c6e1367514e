// The Kubernetes manifests render with kustomize, every object passes its schema (core types and KEDA's
// ScaledObject), and they agree with the code: commands point at built entry points, autoscalers read queues
// that the API's /queues serves, the GPU overlay asks for a GPU and the CUDA provider.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment } from "kubernetes-models/apps/v1";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment,
  Job,
  CronJob,
  ConfigMap,
  Namespace,
  Service,
  ScaledObject,
};

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML
type Obj = any;
// kustomize v5 comes with kubectl on the build machines; Debian's kubernetes-client (1.20) is too old for it.
const kubectl = (() => {
  try {
    return /Kustomize Version: v5/.test(
      execFileSync("kubectl", ["version", "--client"], { encoding: "utf8" }),
    );
  } catch {
    return false;
  }
})();
const MISSING =
  "no kubectl with kustomize v5 on PATH: install kubectl 1.27 or newer, which bundles kustomize v5 " +
  "(https://kubernetes.io/docs/tasks/tools/; not Debian's kubernetes-client)";
// in CI a missing kubectl fails the suite (skipping would pass it untested); on a laptop it only warns
const ci = Boolean(process.env.CI) && process.env.CI !== "false";
if (!kubectl && !ci) console.warn(`infra tests skipped: ${MISSING}`);

describe.runIf(ci)("CI", () => {
  it("has kubectl with kustomize v5", () => {
    expect(kubectl, MISSING).toBe(true);
  });
});

const render = (dir: string): Obj[] =>
  parseAllDocuments(
    execFileSync("kubectl", ["kustomize", `${root}infra/k8s/${dir}`], { encoding: "utf8" }),
  ).map((d) => d.toJSON());

describe.skipIf(!kubectl).each(["base", "overlays/gpu"])("k8s %s", (dir) => {
  const objects = kubectl ? render(dir) : [];
  const byName = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);

  it("renders objects that all pass their schemas", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        "ConfigMap",
        "CronJob",
        "Deployment",
        "Deployment",
        "Deployment",
        "Deployment",
        "Job",
        "Job",
        "Namespace",
        "ScaledObject",
        "ScaledObject",
        "ScaledObject",
        "Service",
      ].sort(),
    );
    for (const o of objects) {
      const Model = MODELS[o.kind];
      expect(Model, o.kind).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
  });

  it("runs entry points that the build produces", () => {
    const pods = objects.flatMap((o) =>
      o.kind === "CronJob" ? [o.spec.jobTemplate.spec.template] : o.spec?.template ? [o.spec.template] : [],
    );
    expect(pods.length).toBe(7);
    for (const pod of pods)
      for (const c of pod.spec.containers)
        expect(existsSync(`${root}${c.command[1]}`), c.command[1]).toBe(true);
  });

  it("retrains on a schedule with the training entry point, never two runs at once", () => {
    const cron = byName("CronJob", "lxtag-trainer");
    expect(cron.spec.concurrencyPolicy).toBe("Forbid");
    const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(c.command).toEqual(["node", "apps/trainer/dist/cli/train.js"]);
    expect(c.image).toMatch(/lxtag-trainer/);
  });

  it("provisions the serving detector with the trainer image (the feature workers wait for one)", () => {
    const job = byName("Job", "lxtag-provision-detector");
    const c = job.spec.template.spec.containers[0];
    expect(c.command).toEqual(["node", "apps/trainer/dist/cli/ensure-detector.js"]);
    expect(c.image).toMatch(/lxtag-trainer/);
    expect(c.envFrom.map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^lxtag-config/), "lxtag-secrets"]),
    );
    const feature = byName("Deployment", "lxtag-feature-worker").spec.template.spec.containers[0];
    expect(feature.image).not.toMatch(/lxtag-trainer/); // no PyTorch there: it cannot provision one itself
  });

  it("serves worker metrics where Prometheus scrapes them: the annotated port, on every interface", () => {
    for (const name of ["lxtag-feature-worker", "lxtag-predict-worker"]) {
      const pod = byName("Deployment", name).spec.template;
      const env = Object.fromEntries(pod.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
      expect(env.LXTAG_METRICS_PORT, name).toBe(pod.metadata.annotations["prometheus.io/port"]);
      // the code's default is loopback, which a scraper in another pod cannot reach
      expect(env.LXTAG_METRICS_HOST, name).toBe("0.0.0.0");
    }
  });

  it("scales workers on queues that the API reports, through the API Service", () => {
    const api = byName("Service", "lxtag-api");
    for (const [worker, queue] of [
      ["lxtag-feature-worker", "features"],
      ["lxtag-predict-worker", "predict"],
      ["lxtag-trainer", "training"],
    ]) {
      const so = byName("ScaledObject", worker);
      expect(so.spec.scaleTargetRef.name).toBe(worker);
      expect(byName("Deployment", worker)).toBeDefined();
      const trigger = so.spec.triggers[0].metadata;
      expect(trigger.valueLocation).toBe(`${queue}.backlog`);
      expect(trigger.url).toBe(`http://${api.metadata.name}.lxtag.svc:${api.spec.ports[0].port}/queues`);
    }
  });

  it(
    dir === "base" ? "runs the detector on CPU" : "puts the detector on a GPU with the CUDA provider first",
    () => {
      const c = byName("Deployment", "lxtag-feature-worker").spec.template.spec.containers[0];
      const providers = c.env.find((e: Obj) => e.name === "LXTAG_EXECUTION_PROVIDERS").value;
      if (dir === "base") {
        expect(providers).toBe("cpu");
        expect(c.resources.limits["nvidia.com/gpu"]).toBeUndefined();
      } else {
        expect(providers).toBe("cuda,cpu");
        expect(c.resources.limits["nvidia.com/gpu"]).toBe(1);
        expect(c.resources.limits.memory).toBe("16Gi");
      }
    },
  );
});
