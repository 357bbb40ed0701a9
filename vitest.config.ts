import { defineConfig } from "vitest/config";

// Two projects: `unit` runs without a broker; `integration` needs a real Kafka broker (KAFKA_BROKERS, set by
// scripts/run.sh) and runs one file at a time: the machine has 2 cores and the broker is shared.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{topology,state,processors,bin,examples}/**/*.test.ts", "test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
