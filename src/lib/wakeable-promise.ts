/**
 * Settlings of promises made by wakeablePromise: a simulated thread that
 * waits on a promise is woken by its settling, which queues the waiter's
 * continuation. The clock's quiet probe and a system call's quick return
 * (proc's quickSyscall) read this count to know whether code woke anyone.
 */
let settlings = 0;

/** How many promises made by wakeablePromise have been settled (resolved or rejected); no kernel counterpart: simulation machinery. */
export function wakeCount(): number {
  return settlings;
}

/**
 * `new Promise(executor)` for a promise that other code settles later (a
 * wait queue's sleeper, a mutex waiter, a process's exit): the same
 * promise, with each settling counted (wakeCount). The kernel counterpart
 * is a wait_event's sleeper; a promise settled only inside its executor
 * needs none of this.
 */
export function wakeablePromise<T>(executor: (resolve: (value: T | PromiseLike<T>) => void, reject: (reason?: unknown) => void) => void): Promise<T> {
  // eslint-disable-next-line no-restricted-syntax -- the one place a promise others settle is made
  return new Promise<T>((resolve, reject) =>
    executor(
      (value) => {
        settlings++;
        resolve(value);
      },
      (reason) => {
        settlings++;
        reject(reason);
      },
    ),
  );
}
