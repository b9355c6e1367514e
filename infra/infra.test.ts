// The Kubernetes manifests render with kustomize, every object passes its schema (core types and KEDA's
// ScaledObject), and they agree with the code: commands point at built entry points, autoscalers read queues
// that the API's /queues serves, probes call the endpoints the processes serve. Every rendered object of every
// overlay is held to the operating invariants (probes, resources, a locked-down securityContext with writable
// mounts where the apps write, disruption budgets, default-deny network policies with narrow egress, GPU
// scheduling, no data stores in prod), so a manifest added later that breaks one fails here.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const root = fileURLToPath(new URL("..", import.meta.url));
const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Deployment,
  StatefulSet,
  Job,
  CronJob,
  ConfigMap,
  Secret,
  Namespace,
  Service,
  PodDisruptionBudget,
  NetworkPolicy,
  ScaledObject,
  TriggerAuthentication,
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
  ).map((d) => {
    const o = d.toJSON();
    // kustomize folds long base64 values over lines, which the API server's decoder skips (the schema does not)
    if (o.kind === "Secret")
      for (const k of Object.keys(o.data ?? {})) o.data[k] = o.data[k].replace(/\s/g, "");
    return o;
  });

/** A workload's pod template, with the object that owns it. */
interface Pod {
  owner: Obj;
  id: string;
  labels: Record<string, string>;
  spec: Obj;
  /** Deployments and StatefulSets run until stopped; Jobs and CronJobs run to completion. */
  longRunning: boolean;
}

function podsOf(objects: Obj[]): Pod[] {
  return objects.flatMap((o): Pod[] => {
    const template =
      o.kind === "CronJob"
        ? o.spec.jobTemplate.spec.template
        : o.kind !== "Pod"
          ? o.spec?.template
          : undefined;
    if (!template?.spec?.containers) return [];
    return [
      {
        owner: o,
        id: `${o.kind}/${o.metadata.name}`,
        labels: template.metadata?.labels ?? {},
        spec: template.spec,
        longRunning: o.kind === "Deployment" || o.kind === "StatefulSet",
      },
    ];
  });
}

const containersOf = (pod: Pod): Obj[] => [...(pod.spec.initContainers ?? []), ...pod.spec.containers];

/** Kubernetes label selector semantics: matchLabels and matchExpressions all hold; an empty selector matches all. */
function selects(selector: Obj | undefined, labels: Record<string, string>): boolean {
  const s = selector ?? {};
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = e.key in labels;
    const ok =
      e.operator === "In"
        ? has && e.values.includes(labels[e.key])
        : e.operator === "NotIn"
          ? !has || !e.values.includes(labels[e.key])
          : e.operator === "Exists"
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

const PUBLIC_V4_EXCEPT = ["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"];
const APP_COMPONENTS = ["api", "worker", "trainer", "job"];
const STORE_IMAGE = /(^|\/)(redis|postgres|minio)[:@]/;

describe.skipIf(!kubectl).each(["overlays/dev", "overlays/prod", "overlays/gpu"])("k8s %s", (dir) => {
  const objects = kubectl ? render(dir) : [];
  const byName = (kind: string, name: string) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const pods = podsOf(objects);
  const appPods = pods.filter((p) => APP_COMPONENTS.includes(p.labels["app.kubernetes.io/component"]));
  const config = ofKind("ConfigMap").find((c) => c.metadata.name.startsWith("lxtag-config"));
  const policies = ofKind("NetworkPolicy");
  const policiesOf = (pod: Pod, type: "Ingress" | "Egress") =>
    policies.filter((p) => p.spec.policyTypes.includes(type) && selects(p.spec.podSelector, pod.labels));
  const dev = dir === "overlays/dev";
  const gpu = dir === "overlays/gpu";

  it("renders objects that all pass their schemas", () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      const Model = MODELS[o.kind];
      expect(Model, `no schema for ${o.kind}: add it to MODELS`).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      if (o.kind !== "Namespace") expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("lxtag");
    }
    // every app workload is there, whatever else an overlay adds
    for (const name of ["lxtag-api", "lxtag-feature-worker", "lxtag-predict-worker", "lxtag-trainer"])
      expect(byName("Deployment", name), name).toBeDefined();
    expect(byName("CronJob", "lxtag-trainer")).toBeDefined();
    expect(
      ofKind("Job")
        .map((j) => j.metadata.name)
        .sort(),
    ).toEqual(["lxtag-prepare", "lxtag-provision-detector"]);
  });

  it("runs entry points that the build produces", () => {
    expect(appPods.length).toBe(7);
    for (const pod of appPods)
      for (const c of pod.spec.containers)
        expect(existsSync(`${root}${c.command.at(-1)}`), c.command.at(-1)).toBe(true);
  });

  it("gives every container resource requests and limits", () => {
    for (const pod of pods)
      for (const c of containersOf(pod)) {
        const where = `${pod.id} ${c.name}`;
        for (const r of ["cpu", "memory"]) {
          expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
          expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
        }
      }
  });

  it("runs every container non-root, read-only, without privilege escalation or capabilities", () => {
    for (const pod of pods) {
      const podSc = pod.spec.securityContext ?? {};
      expect(podSc.seccompProfile?.type, `${pod.id} seccompProfile`).toBe("RuntimeDefault");
      expect(pod.spec.automountServiceAccountToken, `${pod.id} automountServiceAccountToken`).toBe(false);
      for (const c of containersOf(pod)) {
        const where = `${pod.id} ${c.name}`;
        const sc = c.securityContext ?? {};
        expect(sc.runAsNonRoot ?? podSc.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
        expect(sc.runAsUser ?? podSc.runAsUser, `${where} runAsUser`).toBeGreaterThan(0);
        expect(sc.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
        expect(sc.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
        expect(sc.capabilities?.drop, `${where} capabilities.drop`).toContain("ALL");
        expect(sc.capabilities?.add ?? [], `${where} capabilities.add`).toEqual([]);
        expect(sc.privileged ?? false, `${where} privileged`).toBe(false);
      }
    }
  });

  it("mounts writable volumes where the apps write: /tmp and LXTAG_CACHE_DIR", () => {
    const cacheDir = config.data.LXTAG_CACHE_DIR;
    expect(cacheDir).toMatch(/^\//); // relative, it would land in the read-only /app
    for (const pod of pods) {
      const volumes = new Map<string, Obj>((pod.spec.volumes ?? []).map((v: Obj) => [v.name, v]));
      for (const v of volumes.values())
        if (v.emptyDir) expect(v.emptyDir.sizeLimit, `${pod.id} emptyDir ${v.name} sizeLimit`).toBeDefined();
      if (!appPods.includes(pod)) continue;
      for (const c of pod.spec.containers) {
        const mounted = (path: string) =>
          (c.volumeMounts ?? []).find((m: Obj) => m.mountPath === path && !m.readOnly);
        const tmp = mounted("/tmp");
        expect(tmp && volumes.get(tmp.name)?.emptyDir, `${pod.id} ${c.name}: emptyDir on /tmp`).toBeTruthy();
        const own = c.env?.find((e: Obj) => e.name === "LXTAG_CACHE_DIR")?.value ?? cacheDir;
        expect(mounted(own), `${pod.id} ${c.name}: a volume on ${own}`).toBeTruthy();
      }
    }
  });

  it("probes every long-running container; what runs to completion has a deadline instead", () => {
    for (const pod of pods) {
      if (!pod.longRunning) {
        const deadline =
          pod.owner.kind === "CronJob"
            ? pod.owner.spec.jobTemplate.spec.activeDeadlineSeconds
            : pod.owner.spec.activeDeadlineSeconds;
        expect(deadline, `${pod.id} activeDeadlineSeconds`).toBeGreaterThan(0);
        continue;
      }
      for (const c of pod.spec.containers) {
        const where = `${pod.id} ${c.name}`;
        expect(c.livenessProbe, `${where} livenessProbe`).toBeDefined();
        expect(c.readinessProbe, `${where} readinessProbe`).toBeDefined();
        const ports = (c.ports ?? []).flatMap((p: Obj) => [p.name, p.containerPort]);
        for (const probe of [c.livenessProbe, c.readinessProbe]) {
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (port !== undefined) expect(ports, `${where} probes port ${port}`).toContain(port);
        }
      }
    }
  });

  it("probes the lxtag processes on the endpoints they serve: /healthz and /readyz", () => {
    for (const pod of appPods.filter((p) => p.longRunning)) {
      const c = pod.spec.containers[0];
      expect(c.livenessProbe.httpGet.path, pod.id).toBe("/healthz");
      expect(c.readinessProbe.httpGet.path, pod.id).toBe("/readyz");
      if (pod.owner.metadata.name === "lxtag-api") continue; // Fastify serves them on its own port
      // workers serve health on the metrics server: it must be on, reachable from the kubelet, on that port
      const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
      const port = c.ports.find((p: Obj) => p.name === c.livenessProbe.httpGet.port).containerPort;
      expect(env.LXTAG_METRICS_PORT, pod.id).toBe(String(port));
      expect(env.LXTAG_METRICS_HOST, pod.id).toBe("0.0.0.0"); // the code's default is loopback
      expect(pod.owner.spec.template.metadata.annotations["prometheus.io/port"], pod.id).toBe(String(port));
    }
  });

  it("gives each job in flight time to finish on shutdown, the trainer's runs the longest", () => {
    const grace = (pod: Pod) => pod.spec.terminationGracePeriodSeconds;
    // the default 30 s is shorter than an image fetch's timeout plus its detector batch
    for (const pod of appPods.filter((p) => p.longRunning))
      expect(grace(pod), `${pod.id} terminationGracePeriodSeconds`).toBeGreaterThanOrEqual(60);
    const trainers = appPods.filter(
      (p) => p.spec.containers[0].image.includes("lxtag-trainer") && p.id !== "Job/lxtag-provision-detector",
    );
    expect(trainers.map((p) => p.id).sort()).toEqual(["CronJob/lxtag-trainer", "Deployment/lxtag-trainer"]);
    const longest = Math.max(...pods.map((p) => grace(p) ?? 30));
    for (const t of trainers) expect(grace(t), t.id).toBe(longest);
    expect(longest).toBeGreaterThanOrEqual(3600);
  });

  it("has a disruption budget for every Deployment that never blocks a drain", () => {
    for (const d of ofKind("Deployment")) {
      const labels = d.spec.template.metadata.labels;
      const budgets = ofKind("PodDisruptionBudget").filter((b) => selects(b.spec.selector, labels));
      expect(budgets.length, `PodDisruptionBudgets for ${d.metadata.name}`).toBe(1);
      const b = budgets[0].spec;
      expect(b.unhealthyPodEvictionPolicy, d.metadata.name).toBe("AlwaysAllow");
      if (d.spec.replicas === undefined)
        // KEDA owns the count and takes it to 0 or 1: only maxUnavailable lets a drain through
        expect(b.maxUnavailable, `${d.metadata.name} (autoscaled)`).toBeGreaterThanOrEqual(1);
      else if (b.minAvailable !== undefined)
        expect(b.minAvailable, d.metadata.name).toBeLessThan(d.spec.replicas);
      else expect(b.maxUnavailable, d.metadata.name).toBeGreaterThanOrEqual(1);
    }
  });

  it("denies all traffic by default, and every egress rule names its destinations and ports", () => {
    const deny = policies.find(
      (p) =>
        Object.keys(p.spec.podSelector).length === 0 &&
        ["Ingress", "Egress"].every((t) => p.spec.policyTypes.includes(t)) &&
        !p.spec.ingress &&
        !p.spec.egress,
    );
    expect(deny, "a default-deny NetworkPolicy").toBeDefined();
    for (const p of policies)
      for (const rule of p.spec.egress ?? []) {
        expect(rule.to?.length, `${p.metadata.name}: egress to anywhere`).toBeGreaterThan(0);
        expect(rule.ports?.length, `${p.metadata.name}: egress on any port`).toBeGreaterThan(0);
        for (const peer of rule.to) {
          if (!peer.ipBlock) continue;
          if (peer.ipBlock.cidr === "0.0.0.0/0")
            expect(peer.ipBlock.except, `${p.metadata.name}: the internet less private ranges`).toEqual(
              expect.arrayContaining(PUBLIC_V4_EXCEPT),
            );
          if (peer.ipBlock.cidr === "::/0")
            expect(peer.ipBlock.except, p.metadata.name).toEqual(
              expect.arrayContaining(["fc00::/7", "fe80::/10"]),
            );
        }
      }
  });

  it("lets the lxtag pods reach only DNS, Redis, Postgres and S3, and the feature worker the image hosts", () => {
    const stores = dev
      ? { redis: 6379, postgres: 5432, s3: 9000 } // the in-cluster Services
      : { redis: 6379, postgres: 5432, s3: 443 };
    for (const pod of appPods) {
      const rules = policiesOf(pod, "Egress").flatMap((p) => p.spec.egress ?? []);
      const ports = new Set(rules.flatMap((r: Obj) => r.ports.map((p: Obj) => p.port)));
      const internet = rules.some((r: Obj) => r.to.some((t: Obj) => t.ipBlock?.cidr === "0.0.0.0/0"));
      const feature = pod.labels["app.kubernetes.io/name"] === "lxtag-feature-worker";
      expect(internet, `${pod.id} reaches public addresses`).toBe(feature);
      const expected = [53, ...Object.values(stores), ...(feature ? [443] : [])];
      expect([...ports].sort(), pod.id).toEqual([...new Set(expected)].sort());
    }
    const storeRules = policies.find((p) => p.metadata.name === "lxtag-stores")?.spec.egress ?? [];
    expect(storeRules.length).toBe(3);
    for (const rule of storeRules)
      for (const peer of rule.to) {
        if (dev) {
          // each rule reaches a store that this overlay runs, on a port it listens on
          const target = pods.find((p) => selects(peer.podSelector, p.labels));
          expect(target?.labels["app.kubernetes.io/component"], JSON.stringify(peer)).toBe("datastore");
          const listens = target!.spec.containers.flatMap((c: Obj) =>
            c.ports.map((p: Obj) => p.containerPort),
          );
          expect(listens).toContain(rule.ports[0].port);
        } else {
          expect(peer.podSelector, "prod reaches external stores by address").toBeUndefined();
          expect(peer.ipBlock.cidr).not.toMatch(/^(0\.0\.0\.0|::)\/0$/);
        }
      }
  });

  it("takes connections only where they are served: the API from the ingress controller, metrics from Prometheus", () => {
    for (const pod of pods) {
      const ingress = policiesOf(pod, "Ingress").flatMap((p) => p.spec.ingress ?? []);
      const served = new Set(
        pod.spec.containers.flatMap((c: Obj) => (c.ports ?? []).map((p: Obj) => p.containerPort)),
      );
      for (const rule of ingress) {
        expect(rule.from?.length, `${pod.id}: ingress from anywhere`).toBeGreaterThan(0);
        for (const p of rule.ports ?? []) if (pod.longRunning) expect(served, pod.id).toContain(p.port);
      }
      if (pod.labels["app.kubernetes.io/name"] === "lxtag-api")
        expect(
          ingress.some((r: Obj) =>
            r.from.some(
              (f: Obj) =>
                f.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "ingress-nginx",
            ),
          ),
        ).toBe(true);
      if (!pod.longRunning) expect(ingress, `${pod.id} serves nothing`).toEqual([]);
      if (pod.labels["app.kubernetes.io/component"] === "datastore")
        for (const rule of ingress)
          for (const from of rule.from) {
            // only lxtag's own pods
            const allowed = pods.filter((p) => selects(from.podSelector, p.labels));
            expect(from.namespaceSelector ?? from.ipBlock, pod.id).toBeUndefined();
            expect(
              allowed.every((p) => appPods.includes(p)),
              pod.id,
            ).toBe(true);
          }
    }
  });

  it(gpu ? "schedules both worker kinds on GPUs with the CUDA provider" : "asks for no GPU", () => {
    for (const name of ["lxtag-feature-worker", "lxtag-predict-worker"]) {
      const spec = byName("Deployment", name).spec.template.spec;
      const c = spec.containers[0];
      const providers = c.env.find((e: Obj) => e.name === "LXTAG_EXECUTION_PROVIDERS")?.value;
      if (!gpu) {
        expect(c.resources.limits["nvidia.com/gpu"], name).toBeUndefined();
        continue;
      }
      expect(providers, name).toBe("cuda,cpu");
      expect(c.resources.limits["nvidia.com/gpu"], name).toBe(1);
      expect(c.resources.requests["nvidia.com/gpu"] ?? 1, name).toBe(1); // extended resources: requests = limits
      expect(spec.tolerations, name).toContainEqual(expect.objectContaining({ key: "nvidia.com/gpu" }));
      expect(spec.nodeSelector?.["nvidia.com/gpu.present"], name).toBe("true");
    }
    if (gpu)
      expect(
        byName("Deployment", "lxtag-feature-worker").spec.template.spec.containers[0].resources.limits.memory,
      ).toBe("16Gi");
    if (!gpu)
      for (const pod of pods)
        for (const c of containersOf(pod))
          expect(c.resources.limits["nvidia.com/gpu"], pod.id).toBeUndefined();
  });

  it(
    dev ? "runs Redis, Postgres and MinIO in the cluster and points the apps at them" : "runs no data store",
    () => {
      const services = new Map(ofKind("Service").map((s) => [s.metadata.name, s]));
      const secret = ofKind("Secret").find((s) => s.metadata.name === "lxtag-secrets");
      const secretValue = (k: string) =>
        secret?.stringData?.[k] ??
        (secret?.data?.[k] ? Buffer.from(secret.data[k], "base64").toString() : undefined);
      const urls = {
        redis: config.data.LXTAG_REDIS_URL,
        s3: config.data.LXTAG_S3_ENDPOINT,
        postgres: secretValue("DATABASE_URL"),
      };
      const storePods = pods.filter(
        (p) =>
          p.labels["app.kubernetes.io/component"] === "datastore" ||
          containersOf(p).some((c: Obj) => STORE_IMAGE.test(c.image)),
      );
      if (!dev) {
        expect(storePods.map((p) => p.id)).toEqual([]);
        expect(ofKind("StatefulSet")).toEqual([]);
        // credentials come from the operator's Secret, never from these manifests
        expect(ofKind("Secret")).toEqual([]);
        expect(new URL(urls.redis).hostname).not.toMatch(/^(lxtag-)?redis$/);
        expect(services.has(new URL(urls.redis).hostname)).toBe(false);
        return;
      }
      expect(storePods.map((p) => p.owner.metadata.name).sort()).toEqual([
        "lxtag-minio",
        "lxtag-postgres",
        "lxtag-redis",
      ]);
      for (const url of Object.values(urls)) {
        const u = new URL(url);
        const service = services.get(u.hostname);
        expect(service, url).toBeDefined();
        expect(service.spec.ports.map((p: Obj) => p.port)).toContain(Number(u.port));
        expect(
          storePods.some((p) => selects({ matchLabels: service.spec.selector }, p.labels)),
          url,
        ).toBe(true);
      }
      // BullMQ needs noeviction, and the queue must survive a Redis restart
      const redis = byName("StatefulSet", "lxtag-redis").spec.template.spec.containers[0];
      expect(redis.args.join(" ")).toMatch(/--maxmemory-policy noeviction/);
      expect(redis.args.join(" ")).toMatch(/--appendonly yes/);
    },
  );

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
      // /queues answers admin keys only: a bearer token from the Secret
      expect(trigger.authMode).toBe("bearer");
      const auth = byName("TriggerAuthentication", so.spec.triggers[0].authenticationRef.name);
      expect(auth.spec.secretTargetRef).toEqual([
        { parameter: "token", name: "lxtag-secrets", key: "LXTAG_OPERATIONS_KEY" },
      ]);
      // KEDA's operator calls the API from its own namespace
      const apiPod = appPods.find((p) => p.owner.metadata.name === "lxtag-api")!;
      const from = policiesOf(apiPod, "Ingress").flatMap((p) =>
        (p.spec.ingress ?? []).flatMap((r: Obj) => r.from),
      );
      expect(from).toContainEqual({
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } },
      });
    }
  });
});

describe("images", () => {
  it("run a supported Node LTS (22 or 24)", () => {
    const froms = readFileSync(`${root}infra/docker/Dockerfile`, "utf8").match(/^FROM node:(\d+)/gm) ?? [];
    expect(froms.length).toBeGreaterThan(0);
    for (const from of froms) expect(["22", "24"]).toContain(from.replace(/^FROM node:/, ""));
  });
});
