/** A clock the fakes share: each advances it as the time its calls stand for passes. */
export class Clock {
  constructor(public now = Date.parse('2026-11-28T10:00:00.000Z')) {}

  /** The `$$` context for the local executor: `State.EnteredTime` reads this clock at each access. */
  public context(): Record<string, unknown> {
    const read = () => this.now;
    return { State: { get EnteredTime() { return new Date(read()).toISOString(); } } };
  }
}
