// Shared jest settings: TypeScript through @swc/jest (ts-jest refuses TypeScript >= 7, and swc is
// faster), compiled to CommonJS like the packages themselves. cockatiel and jose ship only ES
// modules, so they are transformed too.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  transform: {
    "^.+\\.(t|mj|j)s$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2023" },
        module: { type: "commonjs" },
        sourceMaps: "inline",
      },
    ],
  },
  transformIgnorePatterns: ["/node_modules/(?!(cockatiel|jose)/)"],
  moduleFileExtensions: ["ts", "js", "mjs", "cjs", "json"],
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 30_000,
};
