import type { Deployment } from "@flowplane/core/api";

/** The live revisions in words: "revision 6 (current) 10%, revision 5 (stable) 90%, revision 4 (warm) 0%". */
export function describeLive(live: Deployment["liveRevisions"]): string {
  return live.map((l) => `revision ${l.revision} (${l.role}${l.runs !== l.revision ? `, runs revision ${l.runs}'s replicas` : ""}) ${l.percent}%`).join(", ");
}
