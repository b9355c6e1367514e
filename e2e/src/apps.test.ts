// The local stack (demo, cross-process tests, benchmarks) runs each service as its containers do: the same entry
// point with the same Node options, so that what the scale test and the bench measure is what production runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_ARGS, ROOT, SERVICES, type ServiceName } from "./apps.js";

/** Each `command: [...]` of a YAML file (flow sequences of quoted strings, as `infra/` writes them). */
const commands = (file: string): string[][] =>
  [...readFileSync(join(ROOT, file), "utf8").matchAll(/^\s*command: (\[.*\])\s*$/gm)].map(
    (m) => JSON.parse(m[1]!) as string[],
  );

describe("the services' commands", () => {
  const names = Object.keys(SERVICES) as ServiceName[];
  const local = (name: ServiceName) => ["node", ...NODE_ARGS[name], SERVICES[name]];

  it("are the Kubernetes deployments' and the compose file's", () => {
    const compose = commands("infra/compose.yaml");
    for (const name of names) {
      expect(commands(`infra/k8s/base/${name}.yaml`), name).toEqual([local(name)]);
      expect(compose, name).toContainEqual(local(name));
    }
  });

  it("give the image's default command: the API's", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, "infra/docker/Dockerfile"), "utf8"))?.[1];
    expect(JSON.parse(cmd ?? "null")).toEqual(local("api"));
  });
});
