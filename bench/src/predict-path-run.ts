// `node bench/dist/predict-path-run.js [--json]`: only the predict-path and relabel sections of `npm run bench`.
import { loadConfig } from "./config.js";
import { benchPredictPath } from "./predict-path.js";

const jsonOut = process.argv.includes("--json");
const results: { name: string; value: number; unit: string }[] = [];
const say = (s: string) => (jsonOut ? process.stderr.write(`${s}\n`) : console.log(s));
await benchPredictPath({
  config: loadConfig(),
  say,
  report: (name, value, unit, detail = "") => {
    const rounded = Math.round(value * 100) / 100;
    results.push({ name, value: rounded, unit });
    say(`${name.padEnd(34)} ${String(rounded).padStart(10)} ${unit}${detail ? `   (${detail})` : ""}`);
  },
});
if (jsonOut) for (const r of results) console.log(JSON.stringify(r));
