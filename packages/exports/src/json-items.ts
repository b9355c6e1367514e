import { ExportError } from "./errors.js";

/** How to find the items of a JSON document, and what to call it in errors. */
export interface JsonItemsOptions {
  /** Names the document in error messages (a file path, an S3 key). */
  name: string;
  /**
   * Keys of a top-level object whose array holds the items (the first of them in the object is used, and one met
   * twice is refused as ambiguous; `null` there means no items). @defaultValue [] (only a top-level array holds
   * items)
   */
  wrappers?: readonly string[];
  /**
   * A top-level object that has this key and none of `wrappers` is itself the one item (it is buffered whole:
   * the byte stream's own limit bounds it). @defaultValue undefined (such an object is refused)
   */
  itemKey?: string;
  /** What the top level should have been, for the `invalid-posts-file` message. @defaultValue "an array" */
  expected?: string;
  /**
   * Keys of a top-level object whose values are kept whole (`jsonOutline`'s `kept`), each at most
   * `JSON_KEPT_MAX_CHARS` of JSON text: small settings beside the items (a request's `options`). An object with
   * one of them and no wrapper holds no items rather than being refused. Not with `itemKey`. @defaultValue []
   */
  keep?: readonly string[];
}

/** What `jsonOutline` finds of a document: how many items, where they were, and the values of its `keep` keys. */
export interface JsonOutline {
  items: number;
  /** The wrapper key whose array held the items, or null. */
  wrapper: string | null;
  /** Whether the top level is an array (its elements are the items). */
  array: boolean;
  kept: Record<string, unknown>;
}

export interface JsonItem {
  value: unknown;
  /** The wrapper key whose array held the item, or null (a top-level array, or the object itself). */
  wrapper: string | null;
}

const ARRAY = 1;
const OBJECT = 2;

// what the scanner expects next
const VALUE = 0; // a value (at the top, after ':' or after ',' in an array)
const VALUE_OR_CLOSE = 1; // after '['
const KEY = 2; // after ',' in an object
const KEY_OR_CLOSE = 3; // after '{'
const COLON = 4;
const AFTER = 5; // after a value in a container: ',' or the closing bracket
const STRING = 6; // inside a string, scanning on from `pos`
const DONE = 7; // after the top-level value: whitespace only

const END = "unexpected end of the JSON text (is it cut short?)";
/**
 * Deepest nesting read: far beyond any posts file (Meta's go 5 deep), and short of what recursive walks of an item
 * (the mojibake repair, JSON.stringify) overflow their stack on, which thousands of levels do.
 */
export const JSON_MAX_DEPTH = 256;
/** Longest JSON text of a kept value (`JsonItemsOptions.keep`): settings, not data. */
export const JSON_KEPT_MAX_CHARS = 1 << 20;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A string's body up to its closing quote (or where it is cut or broken): plain runs, valid escapes. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters
const STRING_BODY = /[^"\\\u0000-\u001f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\u0000-\u001f]*)*/y;
const WHITESPACE = /[ \n\r\t]*/y;
/** An escape cut short by the end of a piece (or of the document). */
const CUT_ESCAPE = /^\\(?:u[0-9a-fA-F]{0,3})?$/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const NUMBER_CHARS = /[-+.eE0-9]*/y;
/** The literal a value starting with character `c` must be, if any. */
const literal = (c: number) => (c === 0x74 ? "true" : c === 0x66 ? "false" : c === 0x6e ? "null" : undefined);

/** What a top-level value is, by its first character, for a message ("found an object"). */
function describe(c: number): string {
  if (c === 0x7b) return "an object";
  if (c === QUOTE) return "a string";
  if (c === 0x74 || c === 0x66) return "a boolean";
  if (c === 0x6e) return "null";
  return "a number";
}

function countNewlines(text: string, from: number, to: number): { count: number; last: number } {
  let count = 0;
  let last = -1;
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) {
    count++;
    last = i;
  }
  return { count, last };
}

/**
 * A validating JSON scanner that finds the items of a document fed to it in pieces: the elements of its top-level
 * array (or of a wrapper key's array). Each item's text is handed on whole (or only counted); everything else is
 * validated and dropped, so it holds the current item's text and the piece being scanned, never the document.
 * Malformed JSON anywhere, a cut-short document included, is an `invalid-json` error, found before the end.
 */
class JsonItemScanner {
  /** Items found so far (in counting mode, only counted). */
  count = 0;
  /** The texts of items found since the last `take()` (collecting mode only). */
  private found: string[] = [];
  /** The wrapper key whose array holds the items, once seen. */
  wrapper: string | null = null;
  /** Whether the top level is an array. */
  array = false;
  /** The values of `keep` keys seen so far. */
  readonly kept: Record<string, unknown> = {};

  private buf = "";
  /** Where scanning resumes in `buf`. */
  private pos = 0;
  /** The document offset of `buf[0]`, and the lines before it (for error positions). */
  private base = 0;
  private lines = 0;
  private lineStart = 0;
  private final = false;

  private state = VALUE;
  private readonly stack: number[] = [];
  private stringIsKey = false;
  /** Document offset of the key being scanned in the top-level object (its text is kept), or -1. */
  private keyStart = -1;
  /** Stack depth at which values are items; -1 before their array opens and after it closes. */
  private itemDepth = -1;
  /** Document offset where the item (or the bare top-level object) being collected starts, and its earlier text. */
  private collectFrom = -1;
  private pieces: string[] = [];
  private readonly wrappers: ReadonlySet<string>;
  private readonly keep: ReadonlySet<string>;
  /** Wrapper and `keep` keys met in the top-level object: one met twice is ambiguous, so refused. */
  private readonly seenKeys = new Set<string>();
  /** The `keep` key whose value is next or being collected (then with `collectFrom`), and its text's length so far. */
  private keeping: string | null = null;
  private keptChars = 0;
  private rootObject = false;
  private expectWrapperValue = false;
  private hasItemKey = false;
  /** What the top level turned out to be when it holds no items; refused once the whole document is valid. */
  private refusedAs: string | null = null;

  constructor(
    private readonly options: JsonItemsOptions,
    /** Hand on each item's text (`take`) rather than only counting items. */
    private readonly collect: boolean,
  ) {
    this.wrappers = new Set(options.wrappers ?? []);
    this.keep = new Set(options.keep ?? []);
  }

  /** Scans the next piece of the document. */
  write(text: string): void {
    if (this.final) throw new Error("write after end");
    if (this.base === 0 && this.buf === "" && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.drop();
    this.buf = this.buf.length ? this.buf + text : text;
    this.scan();
  }

  /** Scans what is left; throws unless the document was whole and held items where they were expected. */
  end(): void {
    this.final = true;
    this.scan();
    if (this.state !== DONE) this.fail(this.buf.length, END);
    if (this.refusedAs)
      throw new ExportError(
        "invalid-posts-file",
        `${this.options.name}: expected ${this.options.expected ?? "an array"}, found ${this.refusedAs}`,
      );
  }

  /** The texts of the items found since the last call. */
  take(): string[] {
    const found = this.found;
    this.found = [];
    return found;
  }

  /** Drops the text scanned past, keeping what is still needed: a key's or a cut token's text, an item's text. */
  private drop(): void {
    let cut = this.pos;
    if (this.keyStart >= 0) cut = Math.min(cut, this.keyStart - this.base);
    if (cut === 0) return;
    if (this.collectFrom >= 0) {
      const piece = this.buf.slice(this.collectFrom - this.base, cut);
      this.pieces.push(piece);
      this.collectFrom = this.base + cut;
      if (this.keeping !== null) {
        this.keptChars += piece.length;
        this.checkKeptLength(this.keptChars);
      }
    }
    const { count, last } = countNewlines(this.buf, 0, cut);
    if (count) {
      this.lines += count;
      this.lineStart = this.base + last + 1;
    }
    this.buf = this.buf.slice(cut);
    this.base += cut;
    this.pos -= cut;
  }

  private fail(
    at: number,
    what: string,
    code: "invalid-json" | "invalid-posts-file" = "invalid-json",
  ): never {
    const { count, last } = countNewlines(this.buf, 0, at);
    const line = this.lines + count + 1;
    const column = (count ? at - last - 1 : this.base + at - this.lineStart) + 1;
    throw new ExportError(
      code,
      `${this.options.name}: ${what} at line ${line} column ${column} (character ${this.base + at})`,
    );
  }

  private unexpected(at: number): never {
    const ch = String.fromCodePoint(this.buf.codePointAt(at)!);
    if (this.state === DONE)
      this.fail(at, `unexpected ${JSON.stringify(ch)} after the end of the JSON value`);
    this.fail(at, `unexpected ${JSON.stringify(ch)}`);
  }

  private scan(): void {
    const buf = this.buf;
    const len = buf.length;
    let pos = this.pos;
    for (;;) {
      if (this.state === STRING) {
        STRING_BODY.lastIndex = pos;
        STRING_BODY.test(buf);
        const i = STRING_BODY.lastIndex;
        if (i === len) {
          pos = i;
          break;
        }
        const c = buf.charCodeAt(i);
        if (c === QUOTE) {
          pos = i + 1;
          if (this.stringIsKey) this.keyDone(buf, pos);
          else this.valueDone(pos);
          continue;
        }
        if (c === BACKSLASH) {
          // an escape cut by the end of the piece is scanned again with the next one
          if (len - i < 6 && CUT_ESCAPE.test(buf.slice(i))) {
            if (this.final) this.fail(len, END);
            pos = i;
            break;
          }
          this.fail(i, "invalid escape in a string");
        }
        this.fail(i, "unescaped control character in a string");
      }
      let c = buf.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        // runs of indentation go faster through a regex than char by char
        WHITESPACE.lastIndex = pos + 1;
        WHITESPACE.test(buf);
        pos = WHITESPACE.lastIndex;
        c = buf.charCodeAt(pos);
      }
      if (pos >= len) break;
      switch (this.state) {
        case VALUE:
        case VALUE_OR_CLOSE: {
          if (c === 0x5d && this.state === VALUE_OR_CLOSE) {
            this.close(++pos);
            break;
          }
          const next = this.value(buf, pos, c);
          if (next < 0) {
            this.pos = pos; // a number or literal cut by the end of the piece: scanned again whole
            return;
          }
          pos = next;
          break;
        }
        case KEY:
        case KEY_OR_CLOSE:
          if (c === QUOTE) {
            if (this.rootObject && this.stack.length === 1) this.keyStart = this.base + pos;
            this.stringIsKey = true;
            this.state = STRING;
            pos++;
          } else if (c === 0x7d && this.state === KEY_OR_CLOSE) this.close(++pos);
          else this.unexpected(pos);
          break;
        case COLON:
          if (c !== 0x3a) this.unexpected(pos);
          this.state = VALUE;
          pos++;
          break;
        case AFTER: {
          const top = this.stack[this.stack.length - 1];
          if (c === 0x2c) this.state = top === ARRAY ? VALUE : KEY;
          else if (c === (top === ARRAY ? 0x5d : 0x7d)) {
            this.close(pos + 1);
          } else this.unexpected(pos);
          pos++;
          break;
        }
        default:
          this.unexpected(pos);
      }
    }
    this.pos = pos;
  }

  /** Starts the value at `pos`; returns where scanning goes on, or -1 when the piece ends inside a number or literal. */
  private value(buf: string, pos: number, c: number): number {
    const depth = this.stack.length;
    if (depth === this.itemDepth && this.collect) this.collectFrom = this.base + pos;
    if (depth === 1 && this.keeping !== null) this.collectFrom = this.base + pos;
    if (depth === 0) this.top(pos, c);
    else if (depth === 1 && this.expectWrapperValue) {
      this.expectWrapperValue = false;
      if (c === 0x5b) this.itemDepth = 2;
      else if (c !== 0x6e) this.refusedAs = describe(c); // null: no items
    }
    if (c === 0x7b || c === 0x5b) {
      if (depth === JSON_MAX_DEPTH) this.fail(pos, `a value nested deeper than ${JSON_MAX_DEPTH} levels`);
      this.stack.push(c === 0x7b ? OBJECT : ARRAY);
      this.state = c === 0x7b ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
      return pos + 1;
    }
    if (c === QUOTE) {
      this.stringIsKey = false;
      this.state = STRING;
      return pos + 1;
    }
    const len = buf.length;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = pos;
      const whole = NUMBER.test(buf);
      const end = NUMBER.lastIndex;
      if ((!whole || len - end <= 2) && !this.final) {
        // the number may go on in the next piece ("1", "1.", "1e", "1e+" cut at the end)
        NUMBER_CHARS.lastIndex = pos;
        NUMBER_CHARS.test(buf);
        if (NUMBER_CHARS.lastIndex === len) return -1;
      }
      if (!whole) this.fail(pos, "invalid number");
      this.valueDone(end);
      return end;
    }
    const word = literal(c);
    if (!word) this.unexpected(pos);
    if (buf.startsWith(word, pos)) {
      this.valueDone(pos + word.length);
      return pos + word.length;
    }
    if (!this.final && len - pos < word.length && word.startsWith(buf.slice(pos))) return -1;
    this.fail(pos, `invalid literal (expected ${word})`);
  }

  /** The top-level value starts: an array holds the items; an object may hold them under a wrapper key. */
  private top(pos: number, c: number): void {
    if (c === 0x5b) {
      this.itemDepth = 1;
      this.array = true;
    } else if (c === 0x7b && (this.wrappers.size || this.keep.size || this.options.itemKey !== undefined)) {
      this.rootObject = true;
      if (this.collect && this.options.itemKey !== undefined) this.collectFrom = this.base + pos;
    } else this.refusedAs = describe(c);
  }

  /** A key of the top-level object ends at `end` (past its quote). */
  private keyDone(buf: string, end: number): void {
    this.state = COLON;
    if (this.keyStart < 0) return;
    const at = this.keyStart - this.base;
    const key = JSON.parse(buf.slice(at, end)) as string;
    this.keyStart = -1;
    if (this.wrappers.has(key) || this.keep.has(key)) {
      // JSON.parse would take the last, a streaming reader the first: neither is surely what the sender meant
      if (this.seenKeys.has(key)) this.fail(at, `${JSON.stringify(key)} appears twice`, "invalid-posts-file");
      this.seenKeys.add(key);
    }
    if (this.wrappers.has(key) && this.wrapper === null) {
      this.wrapper = key;
      this.expectWrapperValue = true;
      this.collectFrom = -1; // not a bare item after all: its text so far is not needed
      this.pieces = [];
    } else if (this.keep.has(key)) this.keeping = key;
    else if (key === this.options.itemKey) this.hasItemKey = true;
  }

  /** A bracket closed; `end` is past it. */
  private close(end: number): void {
    this.stack.pop();
    if (this.stack.length < this.itemDepth) this.itemDepth = -1; // the items' array itself closed
    if (this.stack.length === 0 && this.rootObject && this.wrapper === null) {
      if (this.hasItemKey) {
        this.count++;
        if (this.collect) this.emit(end);
      } else if (!Object.keys(this.kept).length) this.refusedAs = "an object";
      this.collectFrom = -1;
      this.pieces = [];
    }
    this.valueDone(end);
  }

  /** A value ended at `end` (exclusive). */
  private valueDone(end: number): void {
    const depth = this.stack.length;
    if (depth === this.itemDepth) {
      this.count++;
      if (this.collect) this.emit(end);
    } else if (depth === 1 && this.keeping !== null) this.keepValue(end);
    this.state = depth === 0 ? DONE : AFTER;
  }

  /** The value of the `keep` key being collected ended at `end`. */
  private keepValue(end: number): void {
    const tail = this.buf.slice(this.collectFrom - this.base, end);
    this.checkKeptLength(this.keptChars + tail.length);
    this.kept[this.keeping!] = JSON.parse(this.pieces.join("") + tail);
    this.pieces = [];
    this.collectFrom = -1;
    this.keeping = null;
    this.keptChars = 0;
  }

  private checkKeptLength(chars: number): void {
    if (chars > JSON_KEPT_MAX_CHARS)
      throw new ExportError(
        "invalid-posts-file",
        `${this.options.name}: the value of ${JSON.stringify(this.keeping)} is longer than ${JSON_KEPT_MAX_CHARS} characters`,
      );
  }

  private emit(end: number): void {
    const tail = this.buf.slice(this.collectFrom - this.base, end);
    this.found.push(this.pieces.length ? this.pieces.join("") + tail : tail);
    this.pieces = [];
    this.collectFrom = -1;
  }
}

type Bytes = AsyncIterable<Buffer | Uint8Array>;

/**
 * The items of a JSON document arriving as bytes, parsed one by one and handed on in groups (those found in each
 * chunk: one async step per chunk, not per item): memory holds the current item and one chunk, whatever the
 * document's size. Items found before a syntax error later in the document come before it is found; count the
 * items first (`countJsonItems`) to find it before using any.
 */
export async function* jsonItemGroups(bytes: Bytes, options: JsonItemsOptions): AsyncGenerator<JsonItem[]> {
  const scanner = new JsonItemScanner(options, true);
  const parsed = () =>
    scanner.take().map((t) => ({ value: JSON.parse(t) as unknown, wrapper: scanner.wrapper }));
  const decoder = new TextDecoder("utf-8"); // UTF-8 split across chunks kept whole; a leading BOM dropped
  for await (const chunk of bytes) {
    scanner.write(decoder.decode(chunk, { stream: true }));
    const items = parsed();
    if (items.length) yield items;
  }
  scanner.write(decoder.decode());
  scanner.end();
  const items = parsed();
  if (items.length) yield items;
}

/** `jsonItemGroups`, one item at a time. */
export async function* jsonItems(bytes: Bytes, options: JsonItemsOptions): AsyncGenerator<JsonItem> {
  // a plain loop: `yield*` over an array costs an async generator step more per item
  for await (const items of jsonItemGroups(bytes, options)) for (const item of items) yield item;
}

/**
 * What `jsonItems` would find, without parsing the items: how many, where, and the values of `keep` keys; the same
 * errors, all found by the end.
 */
export async function jsonOutline(bytes: Bytes, options: JsonItemsOptions): Promise<JsonOutline> {
  const scanner = new JsonItemScanner(options, false);
  const decoder = new TextDecoder("utf-8");
  for await (const chunk of bytes) scanner.write(decoder.decode(chunk, { stream: true }));
  scanner.write(decoder.decode());
  scanner.end();
  return { items: scanner.count, wrapper: scanner.wrapper, array: scanner.array, kept: scanner.kept };
}

/** The number of items `jsonItems` yields, without parsing them; the same errors, all found by the end. */
export async function countJsonItems(bytes: Bytes, options: JsonItemsOptions): Promise<number> {
  return (await jsonOutline(bytes, options)).items;
}

/** Whether a parsed JSON value nests deeper than `JSON_MAX_DEPTH` (walked without recursion). */
export function nestsTooDeep(value: unknown): boolean {
  const open: [unknown, number][] = [[value, 1]];
  for (let next = open.pop(); next; next = open.pop()) {
    const [v, depth] = next;
    if (typeof v !== "object" || v === null) continue;
    if (depth > JSON_MAX_DEPTH) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) open.push([child, depth + 1]);
  }
  return false;
}
