/**
 * Parameter names are a namespace of their own. A deployment's parameters and credentials
 * reach its replicas as environment variables, so a name that a process, a dynamic loader, an
 * interpreter or flowplane's own runtime reads as configuration would let whoever sets a value
 * steer the replica itself (`NODE_OPTIONS=--import=...`, `LD_PRELOAD`, `PYTHONSTARTUP`, a
 * second `FLOWPLANE_BUNDLE_URL`...). Such names are refused at publish (422, naming the flow,
 * node and field) and at deploy and edit (400, naming the parameter), and drivers drop them as a
 * last line of defence.
 *
 * Names are compared upper-cased: on Linux the environment is case-sensitive, but refusing
 * `node_options` costs a user nothing and removes a class of look-alike tricks.
 */

/** Whole names a process or the runtime reads as configuration. */
const RESERVED_EXACT: ReadonlySet<string> = new Set([
  // the process and its shell
  "PATH", "HOME", "SHELL", "TMPDIR", "TMP", "TEMP", "USER", "LOGNAME", "PWD", "OLDPWD", "HOSTNAME", "IFS",
  "ENV", "BASH_ENV", "PS4", "CDPATH", "PROMPT_COMMAND",
  // the runtime's own listening port (read when FLOWPLANE_RUNTIME_PORT is unset)
  "PORT",
  // glibc: every variable its secure-execution mode strips (loaders, locales, resolver files that
  // load code or data from a path). The replica's launcher (bwrap, setpriv) may run as root.
  "GCONV_PATH", "GETCONF_DIR", "LOCPATH", "NLSPATH", "NIS_PATH", "HOSTALIASES", "RES_OPTIONS", "RESOLV_HOST_CONF", "LOCALDOMAIN", "GLIBC_TUNABLES", "TZDIR",
  // TLS trust and OpenSSL engines (an engine is a shared object loaded at start)
  "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
  // the Python environment lfx runs in
  "VIRTUAL_ENV", "CONDA_PREFIX",
]);

/** Prefixes of names read as configuration by Node, the dynamic loader, Python and flowplane's executors. */
const RESERVED_PREFIXES: readonly string[] = [
  "NODE_", "NPM_CONFIG_", "UV_", // Node.js, npm, libuv
  "LD_", "DYLD_", "MALLOC_", "BASH_FUNC_", // dynamic loader, allocator, exported shell functions
  "PYTHON", "PIP_", // CPython (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME...), pip
  "FLOWPLANE_", // flowplane's runtime contract
  "LANGFLOW_", "LFX_", // Langflow's executor's settings (database, config dir, component paths...)
];

/**
 * Executor variables a flow legitimately reads as a global variable. Empty today: no
 * Langflow 1.13 starter project binds a `LANGFLOW_*` or `LFX_*` variable, and every such
 * setting steers lfx itself. Add a name here only with the reason beside it.
 */
export const RESERVED_NAME_ALLOWLIST: ReadonlySet<string> = new Set<string>([]);

/** Why `name` cannot be a parameter name, or null when it can. */
export function reservedNameReason(name: string): string | null {
  const upper = name.toUpperCase();
  if (RESERVED_NAME_ALLOWLIST.has(upper)) return null;
  if (name.length === 0) return "a parameter name may not be empty";
  if (name.includes("=") || name.includes("\0")) return `"${safe(name)}" may not contain "=" or a NUL character`;
  if (RESERVED_EXACT.has(upper)) return `"${name}" is reserved: it configures the replica's process, not the flow`;
  const prefix = RESERVED_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix) return `"${name}" is reserved: names starting with ${prefix} configure the replica's process or runtime, not the flow`;
  return null;
}

export function isReservedName(name: string): boolean {
  return reservedNameReason(name) !== null;
}

/** The reserved prefixes and names, for documentation and error messages. */
export const RESERVED_NAMES = { exact: [...RESERVED_EXACT].sort(), prefixes: [...RESERVED_PREFIXES] } as const;

const safe = (s: string): string => s.replace(/\0/g, "\\0");
