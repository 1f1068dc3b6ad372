export { LocalDriver, type LocalDriverOptions } from "./local-driver.js";
