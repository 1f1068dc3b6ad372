import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { pgliteDist, pgliteVersion } from "./pglite-package.js";

/**
 * PGlite's file bundle (`pglite.data`, 6.2 MB) is PostgreSQL's install tree: the files its
 * WebAssembly build reads through an in-memory file system. PGlite loads the whole bundle into
 * one buffer that lives as long as the database, and every file is a view into it, so all 6 MB
 * are resident in the control plane for its whole life. More than 5 MB of it is never read by
 * a database the control plane opens: initdb's inputs, encoding conversions, replication,
 * Snowball stemmers, ICU's collation data and PGXS's makefiles.
 *
 * The sparse bundle is a buffer of the bundle's size, zero-filled, with the bytes of every other
 * file read into place. Its zero pages cost nothing while glibc serves the buffer from fresh
 * memory (a new mapping, or its heap's untouched top), which is how it goes in the control
 * plane (`npm run bench -- embedded` measures it); after a large free has raised glibc's mmap
 * threshold, calloc may instead clear reused heap, and the saving shrinks. Where each file lies
 * in the bundle is written only in PGlite's Emscripten loader (`pglite.js`), so it is read from
 * there and checked against the bundle itself before it is trusted:
 * - the files tile the bundle exactly (contiguous, from 0 to its size);
 * - every kept shared library starts with WebAssembly's magic and every kept time zone file
 *   with TZif's, so an offset that moved shows as a wrong magic somewhere.
 * When any check fails, the whole bundle is loaded as PGlite would: the saving is lost, never a
 * file. And only for the PGlite version whose reads the list below was checked against
 * (CHECKED_PGLITE_VERSION): another version's PostgreSQL may read other files, so it gets its
 * whole bundle until someone checks again (a test fails on the upgrade to say so).
 *
 * A dropped file still exists, full of zeros: PostgreSQL reading one fails the statement with a
 * clean error ("could not load library", an invalid byte sequence), and the database carries on.
 * That is why the list below names only what a database of the control plane cannot reach (no
 * SQL of tenants runs in it; the store's SQL is fixed: UTF8 both ways, collation "C" from libc,
 * text search 'simple'). Never for a database that runs initdb: initdb reads `postgres.bki` and
 * the SQL scripts.
 */

/** The PGlite whose file reads UNUSED_AT_RUN_TIME was checked against. */
export const CHECKED_PGLITE_VERSION = "0.5.17";

export interface BundleFile {
  path: string;
  start: number;
  end: number;
}

/** Files a database made from the control plane's template never reads, and why. */
const UNUSED_AT_RUN_TIME: readonly RegExp[] = [
  // initdb's inputs: the catalog's bootstrap, the SQL scripts it runs, the sample configurations.
  /^\/pglite\/share\/postgresql\/(postgres\.bki|[^/]+\.sql|sql_features\.txt|errcodes\.txt|[^/]+\.sample)$/,
  // Encoding conversions: PGlite's client and server encodings are both UTF8.
  /^\/pglite\/lib\/postgresql\/[^/]*(_and_|euc2004_sjis2004)[^/]*\.so$/,
  // Logical and physical replication.
  /^\/pglite\/lib\/postgresql\/(libpqwalreceiver|pgoutput)\.so$/,
  // Snowball stemmers: the default text search configuration is 'simple'; the store searches no text.
  /^\/pglite\/lib\/postgresql\/dict_snowball\.so$/,
  // PGXS, the makefiles that build extensions.
  /^\/pglite\/lib\/postgresql\/pgxs\//,
  // ICU's data: the databases' collations come from libc ("C"), and the store creates none.
  /^\/pglite\/icu\//,
];

export const isUnusedAtRunTime = (path: string): boolean => UNUSED_AT_RUN_TIME.some((r) => r.test(path));

/**
 * The bundle's files as PGlite's loader lists them, or undefined unless they tile a bundle of
 * `size` bytes exactly.
 */
export function parseBundleIndex(loaderSource: string, size: number): BundleFile[] | undefined {
  const files: BundleFile[] = [];
  for (const m of loaderSource.matchAll(/\{filename:"([^"\\]+)",start:(\d+),end:(\d+)\}/g)) {
    files.push({ path: m[1]!, start: Number(m[2]), end: Number(m[3]) });
  }
  let at = 0;
  for (const f of files) {
    if (f.start !== at || f.end < f.start) return undefined;
    at = f.end;
  }
  return files.length > 0 && at === size ? files : undefined;
}

const MAGIC: readonly { path: RegExp; bytes: Buffer }[] = [
  { path: /\.so$/, bytes: Buffer.from([0, 0x61, 0x73, 0x6d]) }, // "\0asm"
  { path: /\/timezone\//, bytes: Buffer.from("TZif", "latin1") },
];

/** True when every kept file with a known magic starts with it in `buffer`. */
export function magicHolds(files: readonly BundleFile[], buffer: Uint8Array): boolean {
  for (const f of files) {
    if (f.end === f.start || isUnusedAtRunTime(f.path)) continue;
    const magic = MAGIC.find((m) => m.path.test(f.path))?.bytes;
    if (magic && (f.end - f.start < magic.length || Buffer.compare(buffer.subarray(f.start, f.start + magic.length), magic) !== 0)) return false;
  }
  return true;
}

/** The byte ranges to read: the kept files, adjacent ones merged (about 30 reads, not 700). */
export function keptRanges(files: readonly BundleFile[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const f of files) {
    if (f.end === f.start || isUnusedAtRunTime(f.path)) continue;
    const last = ranges.at(-1);
    if (last && last[1] === f.start) last[1] = f.end;
    else ranges.push([f.start, f.end]);
  }
  return ranges;
}

/**
 * A Blob whose arrayBuffer() is computed on demand: PGlite's fsBundle option calls only that
 * (and checks the buffer's length against its loader's). `size` is the bundle's, so a caller
 * that reads it is not misled; its other readers (text(), stream(), slice()) would see no bytes.
 */
class LazyBundle extends Blob {
  readonly #load: () => Promise<ArrayBuffer>;
  constructor(size: number, load: () => Promise<ArrayBuffer>) {
    super([]);
    Object.defineProperty(this, "size", { value: size });
    this.#load = load;
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#load();
  }
}

/** Reads the sparse bundle, or the whole one when the index does not hold for it. */
export async function loadSparseBundle(dist = pgliteDist()): Promise<ArrayBuffer> {
  const dataPath = join(dist, "pglite.data");
  const whole = async () => {
    const b = await readFile(dataPath);
    // A file this large has a buffer of its own (no pool): no copy.
    const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    return (own ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) as ArrayBuffer;
  };
  const [loader, { size }] = await Promise.all([readFile(join(dist, "pglite.js"), "utf8").catch(() => ""), stat(dataPath)]);
  const files = parseBundleIndex(loader, size);
  if (!files) return whole();
  // Zero-filled by the allocator: its pages cost nothing until written.
  const buffer = new ArrayBuffer(size);
  const fh = await open(dataPath);
  try {
    for (const [start, end] of keptRanges(files)) {
      const { bytesRead } = await fh.read(new Uint8Array(buffer, start, end - start), 0, end - start, start);
      if (bytesRead !== end - start) return whole();
    }
  } finally {
    await fh.close();
  }
  return magicHolds(files, new Uint8Array(buffer)) ? buffer : whole();
}

/**
 * PGlite's fsBundle option for a database that does not run initdb, or undefined (PGlite loads
 * its whole bundle) for a PGlite other than the one checked.
 */
export async function sparseFsBundle(dist = pgliteDist()): Promise<Blob | undefined> {
  if ((await pgliteVersion(dist)) !== CHECKED_PGLITE_VERSION) return undefined;
  const { size } = await stat(join(dist, "pglite.data"));
  return new LazyBundle(size, () => loadSparseBundle(dist));
}
