// A worker thread of version-preparer.ts: prepares one publish and answers once, then exits.
import { parentPort, workerData } from "node:worker_threads";
import { DomainError, prepareVersion } from "@flowplane/core";
import type { PrepareAnswer } from "./version-preparer.js";

const { input, createdBy } = workerData as { input: unknown; createdBy: string };
let answer: PrepareAnswer;
try {
  const { rawFlows, ...version } = prepareVersion(input, createdBy);
  // Serialized here, not by the store on the event loop (the store writes this text as it is).
  answer = { version: { ...version, rawFlowsJson: JSON.stringify(rawFlows) } };
} catch (e) {
  if (!(e instanceof DomainError)) throw e; // the thread's "error" event: unexpected, as it was inline
  answer = { error: { name: e.name, code: e.code, message: e.message, details: e.details } };
}
parentPort!.postMessage(answer);
