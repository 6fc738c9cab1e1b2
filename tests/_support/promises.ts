/** Promise helpers shared by the policy tests. */

/** A promise with its settle functions, to finish an operation by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles `promise` into an inspectable record without unhandled rejections. */
export function outcome<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const record: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(record, { settled: true, value }),
    (error) => Object.assign(record, { settled: true, error }),
  );
  return record;
}

/** Lets `count` microtask turns pass. */
export async function turns(count = 10): Promise<void> {
  for (let i = 0; i < count; i++) await Promise.resolve();
}
