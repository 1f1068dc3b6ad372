// Preloaded with `--import` (NODE_OPTIONS refuses --cpu-prof): profiles this process's main
// thread from start to exit and writes a .cpuprofile to FLOWPLANE_CPU_PROFILE_DIR, for Chrome
// DevTools or bench/lib/profile-top.mjs. The inspector session posts synchronously on the main
// thread, so the profile can be taken in the `exit` handler.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.FLOWPLANE_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 1000 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (err, res) => {
      if (!err) writeFileSync(join(dir, `cp-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
