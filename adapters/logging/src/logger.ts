import { pino, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from "pino";
import { REDACTED, REDACTED_KEYS, redactUrl, type LogFields } from "@flowplane/core/replica";

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

/** A key as a pino redaction path segment: `.name`, or `["x-api-key"]` for what is no identifier. */
function segment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * pino's redaction paths for `keys`: each key at the top level, one object down and two objects
 * down (`req.headers.authorization`). Deeper is not needed: no line nests further.
 */
export function redactionPaths(keys: readonly string[] = REDACTED_KEYS): string[] {
  return keys.flatMap((k) => {
    const s = segment(k);
    return [s.startsWith(".") ? s.slice(1) : s, `*${s}`, `*.*${s}`];
  });
}

/** Fastify's request, as a line shows it: no headers (they hold keys), the URL's key parameter censored. */
interface RequestLike {
  method: string;
  url?: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * The logger of every flowplane process. JSON lines with `level` as a label (`"info"`), an ISO
 * `time`, the redaction list of core censored, and a `url` field (Fastify's request lines, any
 * line that names one) with its `x-api-key` query value censored.
 */
export function createLogger(o: CreateLoggerOptions): RootLogger {
  const logger = pino({
    level: o.level,
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: redactionPaths(), censor: REDACTED },
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => (typeof obj.url === "string" ? { ...obj, url: redactUrl(obj.url) } : obj),
    },
    serializers: {
      req: (req: RequestLike) => ({
        method: req.method,
        url: typeof req.url === "string" ? redactUrl(req.url) : undefined,
        host: req.hostname,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  }, o.stream ?? pino.destination({ dest: 1, sync: true }));
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
