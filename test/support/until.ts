// One helper for tests in src/ and test/ alike: it lives in src/testing/.
export { until, type UntilOptions } from "../../src/testing/until.ts";
