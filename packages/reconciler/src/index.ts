export {
  type ReconcileReport,
  Reconciler,
  type ReconcilerDeps,
  type ReconcilerOptions,
  type ReconcilerQueues,
} from "./reconciler.js";
export { type StartReconcilerOptions, startReconciler } from "./start.js";
