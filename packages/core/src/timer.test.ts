import { afterEach, describe, expect, it, vi } from 'vitest';
import { startTimer } from './timer.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('startTimer', () => {
  it('fires after a delay beyond setTimeout range (30 days), not at once, and can be cancelled', () => {
    vi.useFakeTimers();
    const day = 86_400_000;
    const fire = vi.fn();
    startTimer(30 * day, fire);
    vi.advanceTimersByTime(29 * day);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(day - 1);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);

    const cancelled = vi.fn();
    const cancel = startTimer(30 * day, cancelled);
    vi.advanceTimersByTime(26 * day); // past the first step: the second timer is the one cancelled
    cancel();
    vi.advanceTimersByTime(10 * day);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
