import { Stage, type ErrorCode, type RequestName } from '@group-room/shared';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/*
 * What Prometheus may know about this node: counts, durations and codes, never a name, a
 * title, a token, an address or a room id (no label takes a value from a client; every
 * label's values are a fixed set: request names, error codes, stages, worker indexes).
 */

/** What the metrics read from the rest of the server when scraped. */
export interface MetricSources {
  /** Rooms with someone connected on this node, and their people by stage. */
  people(): { rooms: number; byStage: Record<Stage, number> };
  /** Per mediasoup worker: routers, transports, producers, consumers. */
  media(): { routers: number; transports: number; producers: number; consumers: number }[];
  /** Per worker: CPU seconds used and peak resident memory in bytes. */
  workerUsage(): Promise<{ cpuSeconds: number; maxRssBytes: number }[]>;
  draining(): boolean;
  /** Whether this node's lease is live (it may serve its rooms). */
  leaseValid(): boolean;
}

const MUTE_COMMANDS = new Set(['member.mute', 'member.muteAll']);

export class Metrics {
  readonly registry = new Registry();
  readonly #requestSeconds: Histogram<'request'>;
  readonly #muteSeconds: Histogram;
  readonly #refused: Counter<'code'>;
  readonly #resumes: Counter<'outcome'>;
  readonly #redisErrors: Counter;
  readonly #wrongAccessKeys: Counter;
  readonly #handshakesRefused: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    // Process CPU and memory, event-loop lag (nodejs_eventloop_lag_*), GC, handles.
    collectDefaultMetrics({ register: this.registry, prefix: 'group_room_' });
    this.#requestSeconds = new Histogram({
      name: 'group_room_request_duration_seconds',
      help: 'Time from a request arriving to its answer, by request',
      labelNames: ['request'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#muteSeconds = new Histogram({
      name: 'group_room_mute_to_pause_seconds',
      help: "Time from a facilitator's mute arriving to the producers being paused on the SFU",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.#refused = new Counter({ name: 'group_room_requests_refused_total', help: 'Requests answered with an error, by code', labelNames: ['code'], registers });
    this.#resumes = new Counter({ name: 'group_room_resumes_total', help: 'Seats taken back after a drop or a reload, by outcome', labelNames: ['outcome'], registers });
    this.#redisErrors = new Counter({ name: 'group_room_redis_errors_total', help: 'Redis calls that failed (unreachable, timed out, refused)', registers });
    this.#wrongAccessKeys = new Counter({
      name: 'group_room_access_key_wrong_total',
      help: 'Wrong (or missing) facilitator access keys tried on this node',
      registers,
    });
    this.#handshakesRefused = new Counter({
      name: 'group_room_handshakes_refused_total',
      help: 'Socket handshakes refused before any other work, by reason (rate: too many per second from one address; sockets: too many open from one address)',
      labelNames: ['reason'],
      registers,
    });
  }

  /** Gauges read from `sources` at each scrape (nothing is kept between scrapes). */
  watch(sources: MetricSources): void {
    const registers = [this.registry];
    new Gauge({
      name: 'group_room_rooms',
      help: 'Rooms with someone connected on this node',
      registers,
      collect() {
        this.set(sources.people().rooms);
      },
    });
    new Gauge({
      name: 'group_room_people',
      help: 'People in rooms on this node, by stage (agreement screen, waiting room, admitted)',
      labelNames: ['stage'],
      registers,
      collect() {
        const { byStage } = sources.people();
        for (const stage of Stage.options) this.set({ stage }, byStage[stage]);
      },
    });
    const mediaGauge = (name: string, help: string, pick: (w: ReturnType<MetricSources['media']>[number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers,
        collect() {
          for (const [index, worker] of sources.media().entries()) this.set({ worker: String(index) }, pick(worker));
        },
      });
    mediaGauge('group_room_routers', 'mediasoup routers (rooms with media), per worker', (w) => w.routers);
    mediaGauge('group_room_transports', 'WebRTC transports, per worker', (w) => w.transports);
    mediaGauge('group_room_producers', 'Producers (microphones and cameras sent), per worker', (w) => w.producers);
    mediaGauge('group_room_consumers', 'Consumers (streams forwarded to someone), per worker', (w) => w.consumers);
    const usage = (name: string, help: string, pick: (u: { cpuSeconds: number; maxRssBytes: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers,
        async collect() {
          for (const [index, worker] of (await sources.workerUsage()).entries()) this.set({ worker: String(index) }, pick(worker));
        },
      });
    usage('group_room_worker_cpu_seconds', 'CPU time used by each mediasoup worker process (user + system)', (u) => u.cpuSeconds);
    usage('group_room_worker_max_rss_bytes', 'Peak resident memory of each mediasoup worker process', (u) => u.maxRssBytes);
    new Gauge({
      name: 'group_room_draining',
      help: '1 while this node is shutting down and refusing new sockets',
      registers,
      collect() {
        this.set(sources.draining() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'group_room_lease_valid',
      help: '1 while this node holds its lease in Redis and serves its rooms; 0 when it let them go (cut off from Redis)',
      registers,
      collect() {
        this.set(sources.leaseValid() ? 1 : 0);
      },
    });
  }

  /** A request was answered: its duration, and its error code if it was refused. */
  answered(request: RequestName, seconds: number, error?: ErrorCode): void {
    this.#requestSeconds.observe({ request }, seconds);
    if (error) this.#refused.inc({ code: error });
  }

  /** A room command was applied (its effects on the SFU included). */
  commandApplied(type: string, seconds: number): void {
    if (MUTE_COMMANDS.has(type)) this.#muteSeconds.observe(seconds);
  }

  resumed(outcome: 'ok' | 'refused'): void {
    this.#resumes.inc({ outcome });
  }

  redisFailed(): void {
    this.#redisErrors.inc();
  }

  wrongAccessKey(): void {
    this.#wrongAccessKeys.inc();
  }

  handshakeRefused(reason: 'rate' | 'sockets'): void {
    this.#handshakesRefused.inc({ reason });
  }

  /**
   * Whether the deployment-wide ceiling on wrong access keys is reached, read at each scrape
   * (from Redis with several nodes): 1 means someone is guessing the key from many addresses,
   * and only facilitators known from earlier sessions can create sessions until the hour is over.
   */
  watchAccessKeys(ceilingReached: () => Promise<boolean>): void {
    new Gauge({
      name: 'group_room_access_key_ceiling_reached',
      help: '1 while the deployment has had ACCESS_KEY_GUESSES_PER_HOUR wrong facilitator access keys this hour (only known facilitators may try then)',
      registers: [this.registry],
      async collect() {
        this.set((await ceilingReached().catch(() => false)) ? 1 : 0);
      },
    });
  }
}
