/**
 * One way to listen on the message ports of every runtime: Web Workers and `MessagePort`s
 * (`addEventListener('message', e => e.data)`), Node `worker_threads` (`on('message', data)`).
 */
import type { MessagePortLike } from '../worker/protocol.js';

/** Subscribes to messages; returns the unsubscribe function. */
export function listen(port: MessagePortLike, type: 'message' | 'error' | 'exit', handler: (data: unknown) => void): () => void {
  if (typeof port.on === 'function') {
    // Node: EventEmitter listeners get the payload itself
    const fn = (data: unknown) => handler(data);
    port.on(type, fn);
    return () => (port.off ?? port.removeListener)?.call(port, type, fn);
  }
  if (typeof port.addEventListener === 'function') {
    const fn = (event: unknown) => handler(type === 'message' ? (event as { data: unknown }).data : event);
    port.addEventListener(type, fn);
    // a MessagePort delivers to addEventListener listeners only once started
    if (type === 'message') port.start?.();
    return () => port.removeEventListener?.(type, fn);
  }
  throw new Error('worker: the port has neither addEventListener (Web Worker, MessagePort) nor on (Node worker_threads); pass a Worker, self, parentPort or a MessagePort.');
}

/**
 * One macrotask turn, so that events queued for this thread (a stop message, a click on a
 * stop button, a test runner's RPC) are handled: `setImmediate` in Node, `setTimeout(0)`
 * elsewhere.
 */
export function nextTurn(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => {
    if (typeof immediate === 'function') immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/** The text of anything thrown. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
