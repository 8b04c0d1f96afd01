// Redis connection options shared by the coordinator and the workers.
import { opt } from '@bilevel/core';

/** Where Redis is: a `redis://host:port/db` URL, or `{ host, port, db?, password? }`. */
export type RedisConnection = string | { host?: string; port?: number; db?: number; password?: string; username?: string };

export const CONNECTION = opt.custom(
  "a redis:// URL or { host, port, db?, password? }",
  (v) => typeof v === 'string' || (v != null && typeof v === 'object'),
  "e.g. connection: 'redis://127.0.0.1:6379'",
);

/** ioredis options from a {@link RedisConnection}; BullMQ needs `maxRetriesPerRequest: null` on workers. */
export function redisOptions(connection: RedisConnection, worker: boolean): Record<string, unknown> {
  const base = typeof connection === 'string' ? urlOptions(connection) : { ...connection };
  return worker ? { ...base, maxRetriesPerRequest: null } : base;
}

function urlOptions(url: string): Record<string, unknown> {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`bilevel distributed: connection '${url}' must be a redis:// URL.`);
  return { host: u.hostname, port: Number(u.port || 6379), db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0, password: u.password || undefined, username: u.username || undefined };
}
