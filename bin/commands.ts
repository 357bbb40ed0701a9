// Each command registers itself; this file only imports them, in the order `weir --help` lists them.
import "./worker.js";
import "./topics.js";
import "./describe.js";
import "./replay.js";
import "./reset.js";
import "./state.js";
import "./generate.js";
import "./verify.js";
import "./demo.js";
