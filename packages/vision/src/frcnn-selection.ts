import type { DetectorSelection } from "@lxtag/contracts";

/**
 * The detector's data-dependent steps, between and after its two ONNX graphs (reference B.2, B.3): proposal
 * selection after the RPN, and the 36-box selection after the RoI head. Box arithmetic is rounded to float32 at
 * every step (`f32`) so IoUs equal torchvision's and Caffe's kernels bit for bit, and NMS keeps the same boxes.
 * `lxtag_engine/selection.py` is the PyTorch reference; the parity test holds the two together.
 */

const f32 = Math.fround;

/** Indices by score, highest first, ties by index (both languages use this rule). */
function descending(scores: ArrayLike<number>): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** (x2 - x1) * (y2 - y1) in float32, plus one pixel per side in Caffe's convention. */
function areas(boxes: Float32Array, n: number, plusOne: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    out[i] = f32(
      f32(f32(boxes[o + 2]! - boxes[o]!) + plusOne) * f32(f32(boxes[o + 3]! - boxes[o + 1]!) + plusOne),
    );
  }
  return out;
}

function iou(boxes: Float32Array, area: Float32Array, i: number, j: number, plusOne: number): number {
  const a = i * 4;
  const b = j * 4;
  const w = Math.max(
    0,
    f32(f32(Math.min(boxes[a + 2]!, boxes[b + 2]!) - Math.max(boxes[a]!, boxes[b]!)) + plusOne),
  );
  const h = Math.max(
    0,
    f32(f32(Math.min(boxes[a + 3]!, boxes[b + 3]!) - Math.max(boxes[a + 1]!, boxes[b + 1]!)) + plusOne),
  );
  const inter = f32(w * h);
  return f32(inter / f32(f32(area[i]! + area[j]!) - inter));
}

/** torchvision.ops.nms: greedy, by descending score, suppressing IoU > threshold. Returns kept indices in order. */
export function nms(
  boxes: Float32Array,
  scores: ArrayLike<number>,
  threshold: number,
  limit = Infinity,
): number[] {
  const n = scores.length;
  const area = areas(boxes, n, 0);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (const i of descending(scores)) {
    if (suppressed[i]) continue;
    keep.push(i);
    if (keep.length >= limit) break;
    for (let j = 0; j < n; j++)
      if (!suppressed[j] && j !== i && iou(boxes, area, i, j, 0) > threshold) suppressed[j] = 1;
  }
  return keep;
}

function clip(v: number, max: number): number {
  return Math.min(Math.max(v, 0), max);
}

/**
 * find_top_rpn_proposals for one image: top `pre_nms_topk` anchors by objectness, clipped to the input, empty
 * boxes dropped, NMS at `rpn_nms`, the first `post_nms_topk` kept. Returns (R, 4) boxes in input pixels.
 */
export function selectProposals(
  proposals: Float32Array,
  objectness: Float32Array,
  height: number,
  width: number,
  s: DetectorSelection,
): Float32Array {
  const top = descending(objectness).slice(0, s.pre_nms_topk);
  const boxes = new Float32Array(top.length * 4);
  const scores: number[] = [];
  let n = 0;
  for (const k of top) {
    const x1 = clip(proposals[k * 4]!, width);
    const y1 = clip(proposals[k * 4 + 1]!, height);
    const x2 = clip(proposals[k * 4 + 2]!, width);
    const y2 = clip(proposals[k * 4 + 3]!, height);
    if (!(f32(x2 - x1) > s.rpn_min_size && f32(y2 - y1) > s.rpn_min_size)) continue;
    boxes.set([x1, y1, x2, y2], n * 4);
    scores.push(objectness[k]!);
    n++;
  }
  const kept = boxes.subarray(0, n * 4);
  const keep = nms(kept, scores, s.rpn_nms, s.post_nms_topk);
  const out = new Float32Array(keep.length * 4);
  for (const [i, k] of keep.entries()) out.set(kept.subarray(k * 4, k * 4 + 4), i * 4);
  return out;
}

export interface Selected {
  /** Which proposals were kept, in output order. */
  indices: number[];
  /** (n, 4) boxes as (x1/W, y1/H, x2/W, y2/H) of the original image, clamped to [0, 1]. */
  boxes: Float32Array;
  scores: Float32Array;
}

/** Largest non-background probability of each proposal (background is the last column). */
function maxClassScores(probs: Float32Array, rois: number, columns: number): Float32Array {
  const out = new Float32Array(rois);
  for (let r = 0; r < rois; r++) {
    let best = -Infinity;
    for (let c = 0; c < columns - 1; c++) best = Math.max(best, probs[r * columns + c]!);
    out[r] = best;
  }
  return out;
}

function normalized(
  boxes: Float32Array,
  keep: number[],
  w: number,
  h: number,
  scores: ArrayLike<number>,
): Selected {
  const out = new Float32Array(keep.length * 4);
  const dims = [w, h, w, h];
  keep.forEach((k, i) => {
    for (let d = 0; d < 4; d++) out[i * 4 + d] = Math.min(1, Math.max(0, f32(boxes[k * 4 + d]! / dims[d]!)));
  });
  return { indices: keep, boxes: out, scores: Float32Array.from(keep, (k) => scores[k]!) };
}

/**
 * The HF demo's `do_nms`: each proposal's max-scoring class and that class's regressed box (clipped to the
 * input), class-agnostic NMS tried at each `demo_nms` threshold until it yields `numBoxes` boxes. Where none does
 * (the reference code has no fallback) the last threshold's boxes are kept and the rest is padding.
 */
export function selectDemo(
  probs: Float32Array,
  classBoxes: Float32Array,
  rois: number,
  columns: number,
  height: number,
  width: number,
  s: DetectorSelection,
  numBoxes: number,
): Selected {
  const scores = maxClassScores(probs, rois, columns);
  const boxes = new Float32Array(rois * 4);
  for (let i = 0; i < rois * 4; i++) boxes[i] = clip(classBoxes[i]!, i % 2 === 0 ? width : height);
  let keep: number[] = [];
  for (const t of s.demo_nms) {
    keep = nms(boxes, scores, t, numBoxes);
    if (keep.length === numBoxes) break;
  }
  return normalized(boxes, keep, width, height, scores);
}

/**
 * bottom-up-attention's generate_tsv.py, which made LXMERT's pretraining features: per-class NMS at `caffe_nms`
 * on the proposal boxes in original-image pixels (Caffe's +1 IoU), each box's max_conf over the classes where it
 * survives; the boxes with max_conf >= `caffe_conf` when exactly `numBoxes` do, else the top `numBoxes` by max_conf.
 */
export function selectCaffe(
  probs: Float32Array,
  rois: Float32Array,
  count: number,
  columns: number,
  scaleX: number,
  scaleY: number,
  s: DetectorSelection,
  numBoxes: number,
  imageWidth: number,
  imageHeight: number,
): Selected {
  const sx = f32(scaleX);
  const sy = f32(scaleY);
  const boxes = new Float32Array(count * 4);
  for (let i = 0; i < count * 4; i++) boxes[i] = f32(rois[i]! * (i % 2 === 0 ? sx : sy));
  const area = areas(boxes, count, 1);
  // the boxes are the same for every class, so their overlaps are computed once
  const threshold = f32(s.caffe_nms);
  const overlaps = new Uint8Array(count * count);
  for (let i = 0; i < count; i++)
    for (let j = 0; j < count; j++) overlaps[i * count + j] = iou(boxes, area, i, j, 1) > threshold ? 1 : 0;
  const maxConf = new Float32Array(count);
  const classScores = new Float32Array(count);
  const suppressed = new Uint8Array(count);
  for (let c = 0; c < columns - 1; c++) {
    for (let r = 0; r < count; r++) classScores[r] = probs[r * columns + c]!;
    suppressed.fill(0);
    for (const i of descending(classScores)) {
      if (suppressed[i]) continue;
      if (classScores[i]! > maxConf[i]!) maxConf[i] = classScores[i]!;
      const row = i * count;
      for (let j = 0; j < count; j++) if (overlaps[row + j]) suppressed[j] = 1;
    }
  }
  const confident: number[] = [];
  for (let r = 0; r < count; r++) if (maxConf[r]! >= f32(s.caffe_conf)) confident.push(r);
  const keep = confident.length === numBoxes ? confident : descending(maxConf).slice(0, numBoxes);
  return normalized(boxes, keep, imageWidth, imageHeight, maxConf);
}
