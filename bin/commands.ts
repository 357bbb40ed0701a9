// Every command, in the order `weir --help` lists them (cli.ts sorts by its ORDER).
import type { Command } from "./command.js";
import { demoCommand } from "./demo.js";
import { describeCommand } from "./describe.js";
import { generateCommand } from "./generate.js";
import { initCommand } from "./init.js";
import { replay as replayCommand } from "./replay.js";
import { resetCommand } from "./reset.js";
import { riskServiceCommand } from "./risk-service.js";
import { state as stateCommand } from "./state.js";
import { topicsCommand } from "./topics.js";
import { verifyCommand } from "./verify.js";
import { workerCommand } from "./worker.js";

export const commandList: Command[] = [
  workerCommand,
  topicsCommand,
  describeCommand,
  replayCommand,
  resetCommand,
  stateCommand,
  generateCommand,
  verifyCommand,
  demoCommand,
  riskServiceCommand,
  initCommand,
];
