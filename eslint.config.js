// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "packages/*/dist/", ".bench-build/", "node_modules/", ".tools/", "charts/", "policies/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["*.js", "bin/*.js"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-confusing-void-expression": "off",
      // @kubernetes/client-node models are classes of plain data; objects
      // literals of their shape are what the API expects.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      "@typescript-eslint/no-floating-promises": ["error", { allowForKnownSafeCalls: [{ from: "package", name: ["test", "it", "describe", "suite"], package: "node:test" }] }],
    },
  },
  {
    // node:assert's assertion functions narrow; optional chains that were
    // needed before an assertion read as "unnecessary" after it.
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: { "@typescript-eslint/no-unnecessary-condition": "off" },
  },
  {
    // A test beside the code runs in-process on its own (README "Tests"):
    // what test/ holds (the control plane, opa-built fixtures, stand-ins of
    // other systems) is for the tests that live there.
    files: ["src/**/*.test.ts", "packages/*/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["node:child_process", "child_process"].map((name) => ({ name, message: "a test beside the code starts no process (opa, agentgate, a tool): it belongs under test/opa/ or test/process/ (README \"Tests\")" })),
          patterns: [
            {
              regex: "^(\\.\\./)+test/",
              message: "a test beside the code runs in-process and imports nothing from test/; one that needs test/support or test/fixtures belongs under test/ (README \"Tests\")",
            },
          ],
        },
      ],
    },
  },
  {
    // src/testing/ is left out of the build (tsconfig.build.json): code that
    // ships cannot lean on it.
    files: ["src/**/*.ts"],
    ignores: ["src/**/*.test.ts", "src/testing/**"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "/testing/", message: "src/testing/ is for tests and is not built" }] }],
    },
  },
  {
    // test/unit/ keeps the in-process rule; what needs opa, helm, a process
    // or a control plane has a folder of its own (README "Tests").
    files: ["test/unit/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["node:child_process", "child_process"].map((name) => ({ name, message: "test/unit/ starts no process: a test that does belongs under test/process/, test/opa/ or test/helm/ (README \"Tests\")" })),
          patterns: [
            { regex: "/support/(control-plane|calls-neighbours|oci-registry)\\.ts$", message: "test/unit/ runs no control plane or registry: such a test belongs under test/e2e/ (README \"Tests\")" },
            { regex: "/fixtures/bundles\\.ts$", message: "test/fixtures/bundles.ts runs opa: such a test belongs under test/opa/ (README \"Tests\")" },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { URL: "readonly", process: "readonly", console: "readonly" } },
  },
);
