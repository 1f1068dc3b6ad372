export { driverCases, type DriverSuiteOptions } from "./driver.cases.js";
export { startBundleServer, type BundleServer } from "./bundle-server.js";
export { FakeDriver, type FakeDriverCall, type FakeDriverMethod, type FakeDriverOptions } from "./fake-driver.js";
