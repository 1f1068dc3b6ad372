export { LocalDriver, type LocalDriverOptions } from "./local-driver.js";
export { DEFAULT_MAX_PROCESSES, DEFAULT_SCRATCH_BYTES, DEFAULT_UID_BASE, DEFAULT_UID_COUNT, type IsolationOptions, type IsolationRequest } from "./sandbox.js";
export { readReplicaLogs, type ReplicaLogOptions } from "./replica-logs.js";
export { emptyUid } from "./containment.js";
export { loopbackListener } from "./processes.js";
export { evictReplicaListeners, type Eviction, type Listening, type ReplicaUidRange } from "./squatters.js";
