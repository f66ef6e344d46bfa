/** setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): longer waits are armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Call `fire` after `ms`, also beyond setTimeout's range (where setTimeout alone would fire at once). Returns the
 * cancel function. `now` is the clock the deadline is kept on.
 */
export function startTimer(ms: number, fire: () => void, now: () => number = Date.now): () => void {
  const deadline = now() + ms;
  let handle: ReturnType<typeof setTimeout>;
  const arm = (): void => {
    const left = deadline - now();
    handle = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fire, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(handle);
}
