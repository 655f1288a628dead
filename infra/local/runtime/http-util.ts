/**
 * Small `node:http` helpers shared by the local services (queue, parameter store, gateway).
 */
import type { IncomingMessage, Server } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
  }
}

/**
 * The whole request body, refusing more than `maxBytes` (the rest is drained, not buffered).
 *
 * @throws {BodyTooLargeError} when the body exceeds `maxBytes`; the stream's error otherwise.
 */
export function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? '0');
    if (declared > maxBytes) {
      request.resume();
      reject(new BodyTooLargeError(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () =>
      tooLarge ? reject(new BodyTooLargeError(maxBytes)) : resolve(Buffer.concat(chunks)),
    );
    request.on('error', reject);
  });
}

/**
 * Listen and report the origin (`http://<host>:<port>`).
 *
 * @throws Error from `listen` (e.g. EADDRINUSE), with the address in the message.
 */
export async function listen(
  server: Server,
  host: string,
  port: number,
): Promise<{ origin: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(new Error(`无法监听 / cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server did not bind a TCP port');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { origin: `http://${shownHost}:${address.port}`, port: address.port };
}

/**
 * Stop accepting connections, close idle keep-alive sockets, and wait for open requests to finish; after
 * `forceAfterMs` the remaining connections are cut.
 */
export async function closeServer(server: Server, forceAfterMs = 5_000): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), forceAfterMs);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
