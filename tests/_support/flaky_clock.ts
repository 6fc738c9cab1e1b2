import type { CancelTimer } from "../../mod.ts";
import { ManualClock } from "../../src/testing/mod.ts";

/** A {@link ManualClock} whose `schedule` throws once, after `failAfter` more timers were set (`-1`: never). */
export class ScheduleFailingClock extends ManualClock {
  failAfter = -1;
  override schedule(callback: () => void, ms: number): CancelTimer {
    if (this.failAfter >= 0 && this.failAfter-- === 0) throw new Error("schedule failed");
    return super.schedule(callback, ms);
  }
}

/** A {@link ManualClock} whose `now()` throws once, on its read number `failOn` from when it is set (1: the next; 0: never). */
export class NowFailingClock extends ManualClock {
  failOn = 0;
  override now(): number {
    if (this.failOn > 0 && --this.failOn === 0) throw new Error("clock broken");
    return super.now();
  }
}
