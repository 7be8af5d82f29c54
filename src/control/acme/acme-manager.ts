// The ACME manager (issue 4, item 6): keeps a certificate from the ACME CA (--acme-directory) in
// every Secret that gatehouse.io/acme Ingresses bind hosts to, validated by HTTP-01
// (RFC 8555 §8.3) with acme-client.
//
// - One job per name set, whichever Secrets want it: a name set is never ordered twice at once,
//   and a certificate obtained for it is written to every Secret that wants it, and written again
//   (not ordered again) while the storage has not caught up (the informer's lag in Kubernetes mode).
// - A Secret that already holds a certificate for its names that is not due for renewal is kept
//   (certificate-state.ts: 30 days before expiry). Every certificate is checked at start, after
//   every compile, when its renewal comes due, and every checkIntervalMs.
// - Tokens go to the ChallengeStore; the manager asks the CA to validate only once this replica's
//   workers serve them (and, in Kubernetes mode, after propagationMs for the other replicas).
// - A failure (CA unreachable, challenge invalid, Secret not writable) raises a condition on the
//   Ingresses that asked (GH_ACME_ORDER_FAILED / GH_ACME_STORAGE_FAILED; Events in Kubernetes
//   mode) and is retried with exponential backoff, capped; the condition goes when it succeeds.
// - Only the leader orders and writes (Kubernetes mode: the Lease holder); a leader that loses
//   the Lease stops between steps.
//
// acme-client keeps its HTTP settings (axios instance: trusted CAs, timeout, retries) in module
// state: each order sets them from its manager (one per process, but for tests that run two
// replicas in one process, which trust the same CA). Its own retries are turned off: the
// manager's backoff covers every failure alike.

import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import { rootCertificates } from 'node:tls';
import type * as AcmeModule from 'acme-client';
import { ACME_FIELD } from '../../core/annotations/acme.ts';
import type { AcmeRequest, Condition } from '../../core/model.ts';
import type { ErrorCode } from '../../errors.ts';
import type { CertificatePem } from '../../dataplane/tls/tls-material.ts';
import type { Log } from '../../sources/source.ts';
import { AcmeStorageError, type AcmeStorage } from './acme-storage.ts';
import type { AcmeHost, AcmeLeadership, AcmeService, AcmeStats, AcmeTimings } from './acme-service.ts';
import { certificateState, pemState } from './certificate-state.ts';
import type { ChallengeStore, Tokens } from './challenge-store.ts';

type AcmeClient = AcmeModule.Client;

export interface AcmeManagerOptions {
  readonly directoryUrl: string;
  readonly email: string | null;
  /** Extra CAs (PEM) to trust for the directory's HTTPS, besides the system ones. */
  readonly caPem: string | null;
  readonly storage: AcmeStorage;
  readonly challenges: ChallengeStore;
  readonly leadership: AcmeLeadership;
  readonly log: Log;
  readonly timings?: AcmeTimings;
  readonly now?: () => number;
}

interface Issued {
  readonly pem: CertificatePem;
  readonly notAfter: number;
  readonly renewAt: number;
}

interface Job {
  readonly names: readonly string[];
  /** Secret `namespace/name` → the request, as the last compile asks. */
  targets: Map<string, AcmeRequest>;
  running: boolean;
  /** Failures in a row; drives the backoff. */
  failures: number;
  retryAt: number;
  error: { readonly code: ErrorCode; readonly message: string } | null;
  /** The certificate obtained for these names in this process (kept until it is due). */
  issued: Issued | null;
  /** Secret → when the issued certificate was last written into it. */
  written: Map<string, number>;
}

class NotLeaderError extends Error {
  constructor() {
    super('no longer the leader');
    this.name = 'NotLeaderError';
  }
}

/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function split(ref: string): [string, string] {
  const [namespace = '', name = ''] = ref.split('/');
  return [namespace, name];
}

function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * HTTPS agents by extra CA, shared by the managers of a process and never closed: no keep-alive
 * (an order is a dozen requests, minutes apart from the next), so they hold no sockets.
 */
const agents = new Map<string, Agent>();
function agentFor(caPem: string | null): Agent {
  const key = caPem ?? '';
  let agent = agents.get(key);
  if (agent === undefined) agents.set(key, (agent = new Agent({ keepAlive: false, ...(caPem === null ? {} : { ca: [...rootCertificates, caPem] }) })));
  return agent;
}

let networkErrorsPassed = false;

/**
 * acme-client 5.4's response interceptor turns every error that has no HTTP response (refused,
 * reset, timed out) into "Cannot read properties of undefined (reading 'config')" once its retries
 * are spent. A handler put before it (axios documents `handlers` as public) hands such errors on
 * as plain Errors naming the request, which that interceptor passes through untouched (no
 * `config`): the condition then says what failed. Installed once per process.
 */
function passNetworkErrorsThrough(axios: typeof AcmeModule.axios): void {
  const handlers = (axios.interceptors.response as unknown as { handlers?: unknown[] | null }).handlers;
  if (networkErrorsPassed || !Array.isArray(handlers)) return;
  networkErrorsPassed = true;
  handlers.unshift({
    fulfilled: (response: unknown) => response,
    rejected: (err: { response?: unknown; message?: string; config?: { method?: string; url?: string } }) => {
      if (err?.response !== undefined || err?.config === undefined) return Promise.reject(err);
      return Promise.reject(new Error(`${(err.config.method ?? 'get').toUpperCase()} ${err.config.url ?? ''}: ${err.message ?? 'request failed'}`));
    },
    synchronous: false,
    runWhen: null,
  });
}

export class AcmeManager implements AcmeService {
  private readonly o: AcmeManagerOptions;
  private readonly t: Required<AcmeTimings>;
  private readonly now: () => number;
  private host: AcmeHost | null = null;
  private requests: readonly AcmeRequest[] | null = null;
  private readonly jobs = new Map<string, Job>();
  private clientPromise: Promise<AcmeClient> | null = null;
  private servedTokens = new Set<string>();
  private tokenSeq = 0;
  private kickTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly running = new Set<Promise<void>>();
  private readonly counters = { orders: 0, issued: 0, failures: 0, writes: 0, attempts: [] as number[] };

  constructor(options: AcmeManagerOptions) {
    this.o = options;
    this.t = {
      retryMinMs: 60_000,
      retryMaxMs: 3_600_000,
      checkIntervalMs: 3_600_000,
      propagationMs: options.challenges.shared ? 3000 : 0,
      pollMinMs: 1000,
      pollMaxMs: 10_000,
      serveTimeoutMs: 30_000,
      requestTimeoutMs: 30_000,
      rewriteAfterMs: 60_000,
      ...options.timings,
    };
    this.now = options.now ?? Date.now;
  }

  async start(host: AcmeHost): Promise<void> {
    this.host = host;
    for (const secret of await this.o.storage.load()) host.upsert(secret);
    await this.o.challenges.start((tokens) => this.onTokens(tokens));
    this.o.leadership.onChange(() => this.kick());
  }

  update(requests: readonly AcmeRequest[]): void {
    this.requests = requests;
    this.kick();
  }

  stats(): AcmeStats {
    return { ...this.counters, attempts: [...this.counters.attempts] };
  }

  conditions(): readonly Condition[] {
    const out: Condition[] = [];
    const seen = new Set<string>();
    for (const job of this.jobs.values()) {
      if (job.error === null) continue;
      for (const r of job.targets.values()) {
        const what = job.error.code === 'GH_ACME_STORAGE_FAILED'
          ? `a certificate for ${job.names.join(', ')} could not be stored in Secret ${r.secret}: ${job.error.message}; retrying with backoff, without ordering again`
          : `ordering a certificate for ${job.names.join(', ')} (Secret ${r.secret}) from the ACME CA failed: ${job.error.message}; the Secret keeps what it holds, retrying with backoff`;
        for (const ingress of r.ingresses) {
          const [namespace, name] = split(ingress);
          const key = `${ingress} ${what}`;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ ref: { kind: 'Ingress', namespace, name }, code: job.error.code, field: ACME_FIELD, message: what });
        }
      }
    }
    return out;
  }

  /** Evaluate soon (coalesced): after an update, a finished run, a timer, a leadership change. */
  private kick(): void {
    if (this.closed || this.kickTimer !== null) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = null;
      this.evaluate();
    }, 0);
  }

  private onTokens(tokens: Tokens): void {
    const seq = ++this.tokenSeq;
    this.host?.serveChallenges(tokens).then(
      () => {
        if (seq === this.tokenSeq) this.servedTokens = new Set(Object.keys(tokens));
      },
      (err: unknown) => this.o.log.warn({ err: describe(err) }, 'could not hand ACME challenge tokens to the workers'),
    );
  }

  private evaluate(): void {
    const host = this.host;
    if (this.closed || host === null || this.requests === null) return;
    const now = this.now();
    const wanted = new Map<string, AcmeRequest[]>();
    for (const r of this.requests) {
      const key = r.hosts.join(' ');
      const list = wanted.get(key);
      if (list) list.push(r);
      else wanted.set(key, [r]);
    }
    let changed = false;
    for (const [key, job] of this.jobs) {
      if (wanted.has(key) || job.running) continue;
      if (job.error !== null) changed = true;
      this.jobs.delete(key);
    }
    for (const [key, list] of wanted) {
      let job = this.jobs.get(key);
      if (job === undefined) {
        job = { names: list[0]!.hosts, targets: new Map(), running: false, failures: 0, retryAt: 0, error: null, issued: null, written: new Map() };
        this.jobs.set(key, job);
      }
      job.targets = new Map(list.map((r) => [r.secret, r]));
    }

    const leader = this.o.leadership.isLeader();
    let next = now + this.t.checkIntervalMs;
    for (const job of this.jobs.values()) {
      if (!leader) {
        // Only the leader orders; its failures are its own conditions.
        if (job.error !== null) changed = true;
        job.error = null;
        job.failures = 0;
        job.retryAt = 0;
        continue;
      }
      if (job.running) continue;
      const need: { secret: string; reason: string }[] = [];
      for (const r of job.targets.values()) {
        const state = certificateState(host.secret(...split(r.secret)), job.names, now);
        if (state.ok) next = Math.min(next, state.renewAt);
        else need.push({ secret: r.secret, reason: state.reason });
      }
      if (need.length === 0) {
        if (job.error !== null) changed = true;
        job.error = null;
        job.failures = 0;
        job.retryAt = 0;
        continue;
      }
      if (job.retryAt > now) {
        next = Math.min(next, job.retryAt);
        continue;
      }
      if (job.issued !== null && job.issued.renewAt > now) {
        // Obtained already: only the Secrets that do not show it (yet) are written, no new order.
        const due = need.map((n) => (job.written.get(n.secret) ?? -Infinity) + this.t.rewriteAfterMs);
        if (due.some((at) => at <= now)) this.run(job, 'write');
        else next = Math.min(next, ...due);
        continue;
      }
      this.o.log.info({ names: job.names, secrets: need.map((n) => n.secret), reason: need[0]!.reason }, 'ordering an ACME certificate');
      this.run(job, 'order');
    }
    if (changed) host.conditionsChanged();
    this.schedule(next);
  }

  private schedule(at: number): void {
    if (this.checkTimer !== null) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    if (this.closed) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = null;
      this.kick();
    }, Math.min(Math.max(at - this.now(), 0), MAX_TIMER_MS));
    this.checkTimer.unref();
  }

  private run(job: Job, what: 'order' | 'write'): void {
    job.running = true;
    const p = (async () => {
      try {
        if (what === 'order') {
          this.counters.attempts.push(this.now());
          if (this.counters.attempts.length > 100) this.counters.attempts.shift();
          job.issued = await this.order(job.names);
          job.written.clear();
          this.counters.issued++;
        }
        await this.write(job);
        job.error = null;
        job.failures = 0;
        job.retryAt = 0;
      } catch (err) {
        if (err instanceof NotLeaderError || this.closed) {
          this.o.log.info({ names: job.names }, 'ACME order abandoned: no longer the leader');
        } else {
          job.failures++;
          this.counters.failures++;
          const delay = Math.min(this.t.retryMinMs * 2 ** (job.failures - 1), this.t.retryMaxMs);
          job.retryAt = this.now() + delay;
          const code: ErrorCode = err instanceof AcmeStorageError ? 'GH_ACME_STORAGE_FAILED' : 'GH_ACME_ORDER_FAILED';
          job.error = { code, message: describe(err) };
          this.o.log.warn({ names: job.names, secrets: [...job.targets.keys()], code, failures: job.failures, retryInMs: delay, err: job.error.message }, code === 'GH_ACME_STORAGE_FAILED' ? 'could not store the ACME certificate' : 'ACME order failed');
        }
      } finally {
        job.running = false;
        if (!this.closed) {
          this.host?.conditionsChanged();
          this.kick();
        }
      }
    })();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Writes the job's certificate into each Secret that wants it and does not show it. */
  private async write(job: Job): Promise<void> {
    const host = this.host!;
    const issued = job.issued!;
    for (const r of job.targets.values()) {
      const [namespace, name] = split(r.secret);
      const now = this.now();
      if (certificateState(host.secret(namespace, name), job.names, now).ok) continue;
      const at = job.written.get(r.secret);
      if (at !== undefined && now - at < this.t.rewriteAfterMs) continue;
      this.assertLeader();
      const secret = await this.o.storage.writeCertificate(namespace, name, issued.pem, job.names);
      job.written.set(r.secret, this.now());
      this.counters.writes++;
      if (secret !== null) host.upsert(secret);
      this.o.log.info({ names: job.names, secret: r.secret, notAfter: new Date(issued.notAfter).toISOString() }, 'ACME certificate stored');
    }
  }

  private assertLeader(): void {
    if (this.closed || !this.o.leadership.isLeader()) throw new NotLeaderError();
  }

  private async acme(): Promise<typeof AcmeModule> {
    const acme = await import('acme-client');
    const defaults = acme.axios.defaults as typeof acme.axios.defaults & { acmeSettings?: { retryMaxAttempts: number } };
    defaults.httpsAgent = agentFor(this.o.caPem);
    defaults.timeout = this.t.requestTimeoutMs;
    if (defaults.acmeSettings) defaults.acmeSettings.retryMaxAttempts = 0;
    passNetworkErrorsThrough(acme.axios);
    acme.setLogger((message) => this.o.log.debug({ component: 'acme-client' }, message));
    return acme;
  }

  private client(acme: typeof AcmeModule): Promise<AcmeClient> {
    if (this.clientPromise === null) {
      const p = (async () => {
        const accountKey = await this.o.storage.accountKey(async () => (await acme.crypto.createPrivateEcdsaKey()).toString());
        const client = new acme.Client({ directoryUrl: this.o.directoryUrl, accountKey, backoffAttempts: 10, backoffMin: this.t.pollMinMs, backoffMax: this.t.pollMaxMs });
        // Registering with a known key returns the existing account (RFC 8555 §7.3.1).
        await client.createAccount({ termsOfServiceAgreed: true, ...(this.o.email === null ? {} : { contact: [`mailto:${this.o.email}`] }) });
        this.o.log.info({ directory: this.o.directoryUrl, account: client.getAccountUrl() }, 'ACME account ready');
        return client;
      })();
      this.clientPromise = p;
      p.catch(() => {
        if (this.clientPromise === p) this.clientPromise = null;
      });
    }
    return this.clientPromise;
  }

  /** One order, from newOrder to the certificate (RFC 8555 §7.4). */
  private async order(names: readonly string[]): Promise<Issued> {
    const acme = await this.acme();
    const client = await this.client(acme);
    this.assertLeader();
    const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
    this.counters.orders++;
    this.o.log.info({ names, order: order.url }, 'ACME order created');
    const tokens: Record<string, string> = {};
    const challenges = [];
    for (const authz of await client.getAuthorizations(order)) {
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === 'http-01');
      if (challenge === undefined) throw new Error(`the CA offers no http-01 challenge for ${authz.identifier.value}`);
      tokens[challenge.token] = await client.getChallengeKeyAuthorization(challenge);
      challenges.push(challenge);
    }
    if (challenges.length > 0) {
      try {
        await this.o.challenges.add(tokens);
        await this.served(Object.keys(tokens));
        if (this.t.propagationMs > 0) await new Promise((r) => setTimeout(r, this.t.propagationMs));
        this.assertLeader();
        await Promise.all(challenges.map(async (c) => {
          await client.completeChallenge(c);
          await client.waitForValidStatus(c);
        }));
      } finally {
        await this.o.challenges.remove(Object.keys(tokens)).catch((err: unknown) => this.o.log.warn({ err: describe(err) }, 'could not remove ACME challenge tokens'));
      }
    }
    const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
    // The CN is limited to 64 characters (RFC 5280); the names are in the subjectAltName anyway.
    const [, csr] = await acme.crypto.createCsr({ altNames: [...names], ...(names[0]!.length <= 64 ? { commonName: names[0] } : {}) }, key);
    this.assertLeader();
    let final = await client.finalizeOrder(order, csr);
    if (final.status !== 'valid') final = await client.waitForValidStatus(final);
    const cert = await client.getCertificate(final);
    const state = pemState(cert, key, names, this.now());
    if (!state.ok) throw new Error(`the CA issued a certificate that cannot serve: ${state.reason}`);
    this.o.log.info({ names, notAfter: new Date(state.notAfter).toISOString(), serial: new X509Certificate(cert).serialNumber }, 'ACME certificate issued');
    return { pem: { cert, key }, notAfter: state.notAfter, renewAt: state.renewAt };
  }

  /** Resolves once this replica's workers serve every one of `tokens`. */
  private async served(tokens: readonly string[]): Promise<void> {
    const deadline = this.now() + this.t.serveTimeoutMs;
    while (!tokens.every((t) => this.servedTokens.has(t))) {
      this.assertLeader();
      if (this.now() > deadline) throw new Error(`the workers did not serve the challenge tokens within ${this.t.serveTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.kickTimer !== null) clearTimeout(this.kickTimer);
    if (this.checkTimer !== null) clearTimeout(this.checkTimer);
    await this.o.challenges.close();
    // Runs in flight stop at their next step (assertLeader), or are left to their request timeout.
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}
