/**
 * What lfx 1.13's Read File makes of a `.json` file (lfx/base/data/utils.py,
 * `parse_structured_text`): `orjson.loads`, the top level's string values (a dict's values, a
 * list's items) NFKD-normalised, then `orjson.dumps`: compact JSON, keys in the file's order (a
 * repeated key keeps its first place and its last value, as a Python dict), integers as written,
 * floats as orjson prints them (`1.0`, `100000.0`, `1e-7`, `1e+16`). JavaScript's JSON.parse
 * would reorder integer-like keys and lose `1.0` and big integers, hence this small parser.
 */

type Node =
  | { t: "obj"; entries: Map<string, Node> }
  | { t: "arr"; items: Node[] }
  | { t: "str"; v: string }
  | { t: "int"; lit: string }
  | { t: "float"; v: number }
  | { t: "lit"; v: "true" | "false" | "null" };

class JsonSyntaxError extends Error {}

function parse(text: string): Node {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new JsonSyntaxError(`${what} at character ${i}`);
  };
  const value = (depth: number): Node => {
    if (depth > 1024) fail("nesting too deep");
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries = new Map<string, Node>();
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "obj", entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("expected a key");
        const key = str();
        ws();
        if (text[i++] !== ":") fail("expected ':'");
        entries.set(key, value(depth + 1));
        ws();
        const d = text[i++];
        if (d === "}") return { t: "obj", entries };
        if (d !== ",") fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: Node[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "arr", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        const d = text[i++];
        if (d === "]") return { t: "arr", items };
        if (d !== ",") fail("expected ',' or ']'");
      }
    }
    if (c === '"') return { t: "str", v: str() };
    for (const lit of ["true", "false", "null"] as const) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return { t: "lit", v: lit };
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail("unexpected character");
    i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const big = BigInt(m[0]);
      if (big < -(2n ** 63n) || big >= 2n ** 64n) fail("integer exceeds 64-bit range");
      return { t: "int", lit: big.toString() };
    }
    const v = Number(m[0]);
    if (!Number.isFinite(v)) fail("number out of range");
    return { t: "float", v };
  };
  const str = (): string => {
    const start = i;
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail("unterminated string");
      if (c === '"') break;
      if (c === "\\") i++;
      else if (c! < " ") fail("control character in string");
      i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const root = value(0);
  ws();
  if (i !== text.length) fail("trailing characters");
  return root;
}

/** A float as orjson writes it (the ryu crate's `format64`). */
export function orjsonFloat(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant, exp] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const len = digits.length;
  const kk = Number(exp) + 1;
  const k = kk - len;
  if (k >= 0 && kk <= 16) return `${sign}${digits}${"0".repeat(k)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${"0".repeat(-kk)}${digits}`;
  const e = kk - 1 > 0 ? `e+${kk - 1}` : `e${kk - 1}`;
  return len === 1 ? `${sign}${digits}${e}` : `${sign}${digits[0]}.${digits.slice(1)}${e}`;
}

function dump(n: Node): string {
  switch (n.t) {
    case "obj":
      return `{${[...n.entries].map(([k, v]) => `${JSON.stringify(k)}:${dump(v)}`).join(",")}}`;
    case "arr":
      return `[${n.items.map(dump).join(",")}]`;
    case "str":
      return JSON.stringify(n.v);
    case "int":
      return n.lit;
    case "float":
      return orjsonFloat(n.v);
    case "lit":
      return n.v;
  }
}

/** lfx's JSON text of a `.json` file; throws with the parser's reason when it is not JSON. */
export function lfxJsonText(text: string): string {
  const root = parse(text);
  const nfkd = (v: Node): Node => (v.t === "str" ? { t: "str", v: v.v.normalize("NFKD") } : v);
  if (root.t === "obj") for (const [k, v] of root.entries) root.entries.set(k, nfkd(v));
  if (root.t === "arr") root.items = root.items.map(nfkd);
  return dump(root);
}
