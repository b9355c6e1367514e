import { describe, expect, it } from "vitest";
import { type CandidateScores, CandidateSpecError, parseCandidates, selectCandidate } from "./candidates.js";

const metrics = (f1: number) =>
  Object.fromEntries(
    ["1", "2", "3", "4", "5"].map((k) => [
      k,
      { precision: f1, recall: f1, f1, accuracy: f1, macro_precision: f1, macro_recall: f1, macro_f1: f1 },
    ]),
  );
const scores = (val: number, free: number | null = null): CandidateScores => ({
  val: metrics(val),
  valHashtagFree: free === null ? null : metrics(free),
});

describe("candidate lists", () => {
  it("parses architectures, masking and losses, with the default loss", () => {
    expect(parseCandidates("lxmert4hashtag, text-only+mask@softmax,linear@bce", "softmax")).toEqual([
      { name: "lxmert4hashtag", arch: "lxmert4hashtag", loss: "softmax", mask: false },
      { name: "text-only+mask@softmax", arch: "text-only", loss: "softmax", mask: true },
      { name: "linear@bce", arch: "linear", loss: "bce", mask: false },
    ]);
  });

  it("refuses unknown architectures and losses, duplicates and an empty list, naming them", () => {
    expect(() => parseCandidates("lxmert", "bce")).toThrow(CandidateSpecError);
    expect(() => parseCandidates("lxmert", "bce")).toThrow(/candidate "lxmert": expected <architecture>/);
    expect(() => parseCandidates("linear@hinge", "bce")).toThrow(/a loss of bce, softmax/);
    expect(() => parseCandidates("linear,linear", "bce")).toThrow(/linear is listed twice/);
    expect(() => parseCandidates(" , ", "bce")).toThrow(/empty/);
  });
});

describe("selection", () => {
  const [lxmert, text, linear] = parseCandidates("lxmert4hashtag,text-only,linear", "bce");

  it("takes the best mean of the two caption variants, the first listed on a tie", () => {
    const trained = [
      { spec: lxmert!, scores: scores(0.5, 0.3) },
      { spec: text!, scores: scores(0.45, 0.4) },
      { spec: linear!, scores: scores(0.425, 0.425) },
    ];
    const s = selectCandidate(trained, { k: 2, detectorWeights: "checkpoint:x.bin" });
    expect(s.chosen.spec.name).toBe("text-only");
    expect(s.reason).toMatch(
      /text-only has the best validation F1@2 \(0\.4250, the mean of model text and hashtag-free/,
    );
    expect(s.reason).toMatch(/runner-up linear 0\.4250/);
    expect(s.reason).not.toMatch(/random weights/);
  });

  it("says why a text model won while the detector has random weights", () => {
    const trained = [
      { spec: lxmert!, scores: scores(0.3) },
      { spec: text!, scores: scores(0.35) },
    ];
    const s = selectCandidate(trained, { k: 1, detectorWeights: "random" });
    expect(s.chosen.spec.name).toBe("text-only");
    expect(s.reason).toMatch(/lxmert4hashtag, scored 0\.3000: the serving detector has random weights/);
  });

  it("keeps the first listed on equal scores", () => {
    const s = selectCandidate(
      [
        { spec: lxmert!, scores: scores(0.3) },
        { spec: text!, scores: scores(0.3) },
      ],
      { k: 2, detectorWeights: null },
    );
    expect(s.chosen.spec.name).toBe("lxmert4hashtag");
  });
});
