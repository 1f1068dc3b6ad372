export { driverCases, type DriverSuiteOptions } from "./driver.cases.js";
export { startBundleServer, type BundleServer } from "./bundle-server.js";
