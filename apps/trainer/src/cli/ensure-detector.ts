// `node apps/trainer/dist/cli/ensure-detector.js`: makes sure a serving detector is published (the one
// `detectors/current.json` names, or a new one: the public ResNet-101 weights when LXTAG_DETECTOR_CHECKPOINT is set,
// else the tiny random-weight Faster R-CNN). Prints progress, then {"id", "dir", "weights", "selection"}. Run as the
// Kubernetes Job lxtag-provision-detector on a fresh cluster (the feature workers wait for it), by the demo and
// before import-model; several at once publish one detector (see ensureDetector).
import { ensureDetector } from "../detector-bundle.js";
import { printResult, runCommand } from "./services.js";

await runCommand(async ({ config, store }) => {
  await store.ensureBucket(); // a fresh cluster may run this Job before the prepare Job made the bucket
  const { id, dir, manifest } = await ensureDetector(store, config, (line) => console.log(line));
  printResult({ id, dir, weights: manifest.weights, selection: manifest.selection.mode });
});
