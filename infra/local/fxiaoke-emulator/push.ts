/**
 * Change-push sender ("事件变更订阅", spec §8a): the real signed and AES-encrypted body, built with the same
 * `buildPushRequest` the receiver's tests check against Fxiaoke's official vector.
 *
 * Delivery is asynchronous (the API call that caused the change never waits), with bounded concurrency.
 * A delivery succeeds when the callback answers HTTP 2xx with the encrypted `success` reply or the plain
 * text `success` (`isSuccessReply`). Anything else — another body, another status, a network error, no
 * answer within `timeoutMs` — is retried after `retryDelaysMs[0]`, `[1]`, … with `retryTimes` 1, 2, … and
 * the same messageId, then abandoned and counted.
 *
 * ASSUMPTION (spec §8a: retry schedule, attempts and failure criteria are UNKNOWN): the schedule is
 * configurable; the 3 s timeout default follows the older callback doc's "3秒内返回" rule.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { buildPushRequest, isSuccessReply, type PushInnerEvent } from '../../../lib/fxiaoke/push-crypto.ts';
import type { Logger } from '../../../lib/log.ts';
import type { FxiaokePushTrace as PushTrace } from './api.ts';
import { newMessageId } from './ids.ts';
import type { PushJournalSink } from './push-journal.ts';

/** One message to one callback URL. */
export interface PendingPush {
  url: string;
  inner: PushInnerEvent;
  /** Delivery attempts already made (the next one carries `retryTimes` = this, when > 0). */
  deliveries: number;
}

export interface PushDispatcherOptions {
  aesKey: string;
  enterpriseAccount: string;
  clock: () => number;
  retryDelaysMs: readonly number[];
  concurrency: number;
  timeoutMs: number;
  logger: Logger;
  /** Where every queued, retried and finished push is recorded (push-journal.ts); none: memory only. */
  journal?: PushJournalSink | undefined;
}

export interface PushCounters {
  sent: number;
  acknowledged: number;
  abandoned: number;
  pending: number;
}

/** Traces kept for the benchmark and tests; the oldest are dropped beyond this. */
const MAX_TRACES = 100_000;

const pendingSchema = z.array(
  z.object({
    url: z.url(),
    deliveries: z.number().int().nonnegative(),
    inner: z.object({
      tenantId: z.number(),
      eventType: z.string(),
      apiName: z.string(),
      dataId: z.string(),
      timestamp: z.number(),
      messageId: z.string(),
    }),
  }),
);

/** Read pending pushes saved by a previous run; undefined when the value is not such a list. */
export function parsePendingPushes(value: unknown): PendingPush[] | undefined {
  const parsed = pendingSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** Upper bound on a callback's reply body we read (a success reply is ~150 bytes). */
const MAX_REPLY_CHARS = 64 * 1024;

export class PushDispatcher {
  readonly #options: PushDispatcherOptions;
  readonly #queue: PendingPush[] = [];
  readonly #active = new Map<PendingPush, AbortController>();
  readonly #waiting = new Map<PendingPush, NodeJS.Timeout>();
  readonly #settledWaiters: (() => void)[] = [];
  #counters = { sent: 0, acknowledged: 0, abandoned: 0 };
  #traces = new Map<string, PushTrace>();
  #closing = false;
  #pumpScheduled = false;
  /** The one callback URL set since start (see readdress), if any. */
  #movedTo: string | undefined;
  // Kept-alive connections to the callbacks, as a sender of many pushes keeps them. node:http rather than
  // fetch: measured with npm run bench, fetch (undici) was the largest item on the local stack's main
  // thread, which the emulator shares with the gateway and the queues.
  readonly #agents = {
    http: new HttpAgent({ keepAlive: true }),
    https: new HttpsAgent({ keepAlive: true }),
  };

  constructor(options: PushDispatcherOptions) {
    this.#options = options;
  }

  /** Queue one change event for every URL (each gets its own messageId). */
  enqueue(
    urls: readonly string[],
    event: { tenantId: number; eventType: string; apiName: string; dataId: string; changedAtMs: number },
  ): void {
    if (this.#closing) return;
    for (const url of urls) {
      const push: PendingPush = {
        url,
        deliveries: 0,
        inner: {
          tenantId: event.tenantId,
          eventType: event.eventType,
          apiName: event.apiName,
          dataId: event.dataId,
          timestamp: event.changedAtMs,
          messageId: newMessageId(),
        },
      };
      this.#options.journal?.queued(push);
      this.#queue.push(push);
    }
    this.#schedulePump();
  }

  /** Re-queue pushes saved by a previous run; they go out as redeliveries when they had been tried. */
  restore(items: readonly PendingPush[]): void {
    for (const item of items) this.#queue.push({ ...item });
    this.#schedulePump();
  }

  /**
   * The subscription's callback moved (the local stack's gateway listens on another port after a restart):
   * pushes queued or waiting for a retry that were addressed elsewhere go to `urls[0]` now — at once, since
   * the old address was the reason a retry waits. Only when exactly one URL is configured; with several, which
   * subscription an old URL belonged to is unknown, so nothing moves. A delivery in flight to an old address
   * goes to the new one if it fails.
   */
  readdress(urls: readonly string[]): void {
    const [target] = urls;
    this.#movedTo = urls.length === 1 ? target : undefined;
    if (urls.length !== 1 || target === undefined) return;
    for (const job of this.#queue) {
      if (job.url === target) continue;
      job.url = target;
      this.#options.journal?.attempted(job);
    }
    for (const [job, timer] of this.#waiting) {
      if (job.url === target) continue;
      clearTimeout(timer);
      this.#waiting.delete(job);
      job.url = target;
      this.#options.journal?.attempted(job);
      this.#queue.push(job);
    }
    this.#schedulePump();
  }

  counters(): PushCounters {
    return { ...this.#counters, pending: this.pendingCount };
  }

  resetCounters(): void {
    this.#counters = { sent: 0, acknowledged: 0, abandoned: 0 };
    this.#traces = new Map();
  }

  /** Delivery traces since the last reset, oldest first (at most the last 100 000 pushes). */
  traces(): PushTrace[] {
    return [...this.#traces.values()].map((trace) => ({ ...trace }));
  }

  get pendingCount(): number {
    return this.#queue.length + this.#active.size + this.#waiting.size;
  }

  /** Every push not yet acknowledged or abandoned: queued, in flight, waiting for a retry. */
  #pendingPushes(): PendingPush[] {
    return [...this.#queue, ...this.#active.keys(), ...this.#waiting.keys()];
  }

  /** Resolves when nothing waits for delivery or redelivery. */
  settled(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /**
   * Stop: abort deliveries in flight, cancel scheduled retries, and hand back everything not yet
   * acknowledged so the caller can persist it.
   */
  async close(): Promise<PendingPush[]> {
    this.#closing = true;
    const pending: PendingPush[] = [...this.#queue];
    this.#queue.length = 0;
    for (const [job, timer] of this.#waiting) {
      clearTimeout(timer);
      pending.push(job);
    }
    this.#waiting.clear();
    const inFlight = [...this.#active.keys()];
    for (const controller of this.#active.values()) controller.abort();
    pending.push(...inFlight);
    this.#active.clear();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
    this.#notifySettled();
    return pending;
  }

  /**
   * Start deliveries once the API call or import that queued the pushes has finished its turn, as a sender
   * on its own machine would: a delivery started at once would have its acknowledgement clock running while
   * this thread still creates the rest of an import (measured with `npm run bench`: the first eight pushes
   * of a 1 000-record import "waited" 115–150 ms for the import itself, not for the receiver).
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#closing && this.#active.size < this.#options.concurrency) {
      const job = this.#queue.shift();
      if (!job) break;
      const controller = new AbortController();
      this.#active.set(job, controller);
      void this.#deliver(job, controller);
    }
    this.#notifySettled();
  }

  async #deliver(job: PendingPush, controller: AbortController): Promise<void> {
    const { aesKey, enterpriseAccount, clock, timeoutMs, logger } = this.#options;
    const retryTimes = job.deliveries === 0 ? undefined : job.deliveries;
    const body = buildPushRequest(job.inner, {
      aesKey,
      enterpriseAccount,
      timestamp: clock(),
      ...(retryTimes === undefined ? {} : { retryTimes }),
    });
    this.#counters.sent += 1;
    const sentAtMs = clock();
    // Durations from the monotonic clock: an injected test clock may stand still.
    const sentAtPerfMs = performance.now();
    const traceKey = `${job.inner.messageId} ${job.url}`;
    let trace = this.#traces.get(traceKey);
    if (!trace) {
      trace = {
        messageId: job.inner.messageId,
        apiName: job.inner.apiName,
        dataId: job.inner.dataId,
        url: job.url,
        firstSentAtMs: sentAtMs,
        attempts: 0,
      };
      this.#traces.set(traceKey, trace);
      if (this.#traces.size > MAX_TRACES) {
        const oldest = this.#traces.keys().next().value;
        if (oldest !== undefined) this.#traces.delete(oldest);
      }
    }
    trace.attempts += 1;
    let outcome: string;
    try {
      const response = await this.#post(
        job.url,
        JSON.stringify(body),
        AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]),
      );
      const reply = response.text.slice(0, MAX_REPLY_CHARS);
      outcome =
        response.status >= 200 && response.status < 300 && isSuccessReply(reply, aesKey)
          ? 'ok'
          : `HTTP ${response.status}: ${reply.slice(0, 200)}`;
    } catch (error) {
      outcome = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    // close() already took this job back as pending; its outcome no longer matters.
    if (this.#closing || !this.#active.has(job)) return;
    this.#active.delete(job);
    job.deliveries += 1;
    const fields = {
      url: job.url,
      messageId: job.inner.messageId,
      apiName: job.inner.apiName,
      dataId: job.inner.dataId,
      retryTimes: retryTimes ?? 0,
    };
    const journal = this.#options.journal;
    if (outcome === 'ok') {
      this.#counters.acknowledged += 1;
      trace.acknowledgedAtMs = clock();
      trace.ackMs = performance.now() - sentAtPerfMs;
      journal?.settled(job);
      logger.debug('fxiaoke_emulator.push_acknowledged', fields);
    } else if (this.#movedTo !== undefined && job.url !== this.#movedTo) {
      // It was sent before the callback moved: the old address is why it failed, so it goes to the new one
      // now (as queued and waiting pushes did), retries left or not.
      logger.info('fxiaoke_emulator.push_failed_readdressed', { ...fields, outcome, url: this.#movedTo });
      job.url = this.#movedTo;
      journal?.attempted(job);
      this.#queue.push(job);
    } else if (job.deliveries > this.#options.retryDelaysMs.length) {
      this.#counters.abandoned += 1;
      trace.abandoned = true;
      journal?.settled(job);
      logger.warn('fxiaoke_emulator.push_abandoned', { ...fields, outcome });
    } else {
      const delay = this.#options.retryDelaysMs[job.deliveries - 1] ?? 0;
      journal?.attempted(job);
      logger.info('fxiaoke_emulator.push_failed_will_retry', { ...fields, outcome, retryInMs: delay });
      const timer = setTimeout(() => {
        this.#waiting.delete(job);
        this.#queue.push(job);
        this.#pump();
      }, delay);
      this.#waiting.set(job, timer);
    }
    if (journal?.wantsCompaction(this.pendingCount)) journal.rewrite(this.#pendingPushes());
    this.#pump();
  }

  /** POST a JSON body; the reply's status and text (at most MAX_REPLY_CHARS are kept). */
  #post(url: string, body: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const https = target.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'POST',
          agent: https ? this.#agents.https : this.#agents.http,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
          signal,
        },
        (res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (text.length < MAX_REPLY_CHARS) text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  #notifySettled(): void {
    if (this.pendingCount !== 0 && !this.#closing) return;
    const waiters = this.#settledWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }
}
