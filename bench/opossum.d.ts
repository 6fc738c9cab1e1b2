// The part of opossum 10's API the breaker bench uses (opossum ships no
// types, and @types/opossum describes version 8).
declare module "opossum" {
  export default class CircuitBreaker<A extends unknown[] = unknown[], R = unknown> {
    constructor(action: (...args: A) => Promise<R>, options?: { timeout?: number | false; resetTimeout?: number });
    fire(...args: A): Promise<R>;
    open(): void;
    shutdown(): void;
  }
}
