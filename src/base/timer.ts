// Every timer of the project goes through here. Node's setTimeout takes a
// delay of at most 2^31-1 ms (about 24.8 days); a longer one is turned into
// 1 ms with a TimeoutOverflowWarning, so `-K 2147483648` would fire at once.
// Our millisecond options go up to 2^32-1 (and s6-tlsclient's -t and -T, in
// seconds, further still): a longer delay is waited in steps.

/** The longest delay Node's setTimeout honours. */
export const LONGEST_NODE_DELAY_MS = 2 ** 31 - 1;

/** The two calls the timer needs; Node's by default, a fake clock in unit tests. */
export interface TimerClock {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeClock: TimerClock = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface Timer {
  /** stops it; harmless after it fired or was cancelled */
  cancel(): void;
}

export interface TimerOptions {
  /** false: the timer does not keep the process alive (Node's unref) */
  holdsProcess?: boolean;
  clock?: TimerClock;
}

/**
 * Calls `onExpire` once, `ms` milliseconds from now, however large `ms` is
 * (any finite number of milliseconds; Infinity never fires).
 */
export function startTimer(ms: number, onExpire: () => void, { holdsProcess = true, clock = nodeClock }: TimerOptions = {}): Timer {
  let left = Number.isFinite(ms) ? Math.max(0, ms) : Infinity;
  let handle: unknown;
  let live = true;
  const schedule = (): void => {
    const step = Math.min(left, LONGEST_NODE_DELAY_MS);
    left -= step;
    handle = clock.setTimeout(() => {
      if (!live) return;
      if (left > 0) return schedule();
      live = false;
      onExpire();
    }, step);
    if (!holdsProcess) (handle as { unref?: () => void }).unref?.();
  };
  schedule();
  return {
    cancel(): void {
      if (!live) return;
      live = false;
      clock.clearTimeout(handle);
    },
  };
}
