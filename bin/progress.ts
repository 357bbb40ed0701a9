/**
 * A progress bar with rate and ETA, drawn on stderr only when stderr is a terminal (never in pipes, logs or CI),
 * redrawn at most every 100 ms.
 */
export class ProgressBar {
  readonly #started = Date.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled: boolean = stream.isTTY === true,
  ) {}

  update(done: number, extra = "", force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    this.#drawn = true;
    this.stream.write(
      `\r${renderProgress(this.label, done, this.total, (now - this.#started) / 1000, this.stream.columns ?? 100)}${extra}\x1b[K`,
    );
  }

  setTotal(total: number): void {
    this.total = total;
  }

  /** Ends the line (if anything was drawn). */
  finish(): void {
    if (this.enabled && this.#drawn) this.stream.write("\n");
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** `label [#######-------]  45% 4500/10000 1234/s ETA 0:04` */
export function renderProgress(
  label: string,
  done: number,
  total: number,
  elapsedSeconds: number,
  columns = 100,
): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
  const eta = rate > 0 ? (total - done) / rate : Infinity;
  const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${done}/${total} ${Math.round(rate)}/s ETA ${formatDuration(eta)}`;
  const width = Math.max(10, Math.min(40, columns - label.length - tail.length - 4));
  const filled = Math.round(fraction * width);
  return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}]${tail}`;
}
