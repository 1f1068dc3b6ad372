// The server-process helpers live in @flowplane/testkit, shared with the CLI and web UI tests.
export { freePort, freePortBelowEphemeral, pidsMatching, startServer, type ServerProcess } from "@flowplane/testkit";
