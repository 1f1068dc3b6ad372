import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from "pino";
import { REDACTED, REDACTED_KEYS, redactUrl, type LogFields } from "@flowplane/core/replica";
import { compileRedactor } from "./redact.js";

/** pino's logger: it satisfies core's `Logger`, and Fastify takes it as its `loggerInstance`. */
export type RootLogger = PinoLogger;

export interface CreateLoggerOptions {
  /** The lowest level written: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`. */
  level: string;
  /** Where lines go; stdout when absent (synchronously, so a line written before exit is kept). */
  stream?: DestinationStream;
  /** Fields on every line (say, the runtime's `deploymentId` and `replica`). */
  bindings?: LogFields;
}

/**
 * The redaction list of core, censored in every line's fields and every child's bindings
 * (redact.ts: one walk, compiled once). `req` and `res` are left to their serializers, which keep
 * no header.
 */
const redact = compileRedactor(REDACTED_KEYS, REDACTED, { skipTopLevel: ["req", "res"] });

/** Fastify's request, as a line shows it: no headers (they hold keys), the URL's key parameter censored. */
interface RequestLike {
  method: string;
  url?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * The most a logger holds unwritten (sonic-boom's `maxLength`): past it a line is dropped. Written
 * synchronously, nothing is held but the line being written, except once a write failed: then
 * sonic-boom keeps the failed bytes to try again and queues every later line behind them.
 */
const MAX_UNWRITTEN_BYTES = 16 * 1024 * 1024;

/**
 * stdout, written synchronously. A replica's stdout is a file of the driver's, held to a size
 * (RLIMIT_FSIZE, driver-local sandbox.ts maxFileBytes): past it a write fails with EFBIG, and
 * the process goes on rather than ending (an unheard stream error would). The file cannot grow
 * again, so every later line fails too: sonic-boom would keep them all in memory (100,000 lines of
 * 1 KB held 110 MB of heap), so they are dropped past MAX_UNWRITTEN_BYTES.
 */
function stdoutDestination(): ReturnType<typeof pino.destination> {
  const dest = pino.destination({ dest: 1, sync: true, maxLength: MAX_UNWRITTEN_BYTES });
  dest.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EFBIG") throw err;
  });
  return dest;
}

/**
 * The logger of every flowplane process. JSON lines with `level` as a label (`"info"`), an ISO
 * `time`, the redaction list of core censored, and a `url` or `path` field (Fastify's request
 * lines, the replica's access line, any line that names one) with every access key in it censored.
 */
export function createLogger(o: CreateLoggerOptions): RootLogger {
  const logger = pino({
    level: o.level,
    timestamp: stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      // Once per line, before the serializers (the `req` serializer below keeps only safe parts).
      log: (obj) => {
        const r = redact(obj);
        // A `url` or `path` field (the replica's access line logs the path a caller chose) shows
        // no access key, wherever the caller put one (core key-param.ts redactUrl).
        return typeof r.url === "string" || typeof r.path === "string"
          ? { ...r, ...(typeof r.url === "string" ? { url: redactUrl(r.url) } : {}), ...(typeof r.path === "string" ? { path: redactUrl(r.path) } : {}) }
          : r;
      },
    },
    serializers: {
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      req: (req: RequestLike) => ({
        method: req.method,
        url: typeof req.url === "string" ? redactUrl(req.url) : undefined,
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  }, o.stream ?? stdoutDestination());
  // A child's bindings are censored once, when it is made (pino's bindings formatter applies to
  // the root only). Children inherit this `child`, so grandchildren go through it too.
  const pinoChild = logger.child as unknown as (this: RootLogger, bindings: object, options?: object) => RootLogger;
  logger.child = function (this: RootLogger, bindings: object, options?: object) {
    return pinoChild.call(this, redact(bindings), options);
  } as unknown as RootLogger["child"];
  return o.bindings ? logger.child(o.bindings) : logger;
}

/** One captured line, parsed. */
export type LogLine = { level: string; msg: string } & LogFields;

/**
 * For tests: a real logger (same redaction, same format) whose lines are kept in memory,
 * parsed, instead of written. `text()` is every line as written, to search for a leaked value.
 */
export function memoryLogger(level = "debug"): { log: RootLogger; lines: LogLine[]; text: () => string } {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const stream = {
    write(s: string) {
      raw.push(s);
      lines.push(JSON.parse(s) as LogLine);
    },
  };
  return { log: createLogger({ level, stream }), lines, text: () => raw.join("") };
}
