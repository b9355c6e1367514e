import { describe, expect, it } from "vitest";
import { csvCell } from "./results-csv.js";

describe("csvCell", () => {
  it("quotes commas, quotes and line breaks (RFC 4180)", () => {
    expect(["plain", "a,b", 'say "hi"', "two\nlines", null, undefined].map(csvCell)).toEqual([
      "plain",
      '"a,b"',
      '"say ""hi"""',
      '"two\nlines"',
      "",
      "",
    ]);
  });

  it("keeps a spreadsheet from running a client's text as a formula, and leaves numbers alone", () => {
    expect(['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "a=b"].map(csvCell)).toEqual([
      '"\'=HYPERLINK(""http://x"",""y"")"',
      "'+1",
      "'-2",
      "'@SUM(A1)",
      "'\tx",
      "a=b",
    ]);
    expect([-2, 0.25, true].map(csvCell)).toEqual(["-2", "0.25", "true"]);
  });
});
