/**
 * Keeps sessions open between generations when the whole model fits comfortably in memory (the pipeline
 * still calls release() after each stage; here that only returns the session to the cache). Large models
 * are used without it, so at most one big graph is resident.
 *
 * Device sessions are created for fixed input shapes (and maybe captured), so they are cached per graph AND
 * setup: a job with other shapes replaces the graph's session rather than adding a second copy of its weights. The
 * same holds for the attention chunking and the split (src/runtime/types.ts SessionPlan) it was made with.
 */
import type { GraphName } from '../contract/manifest.ts';
import type { SessionPlan, DeviceResidency, DeviceSession, DeviceSessionOptions, GraphSession, ModelRuntime } from './types.ts';

interface Entry<S> {
  key: string;
  session: Promise<S>;
}

export class CachingRuntime implements ModelRuntime {
  private readonly sessions = new Map<GraphName, Entry<GraphSession>>();
  private readonly deviceSessions = new Map<GraphName, Entry<DeviceSession>>();
  readonly resident?: DeviceResidency;
  private sessionPlan: SessionPlan = {};

  constructor(private readonly inner: ModelRuntime) {
    const device = inner.resident;
    if (device) {
      const deviceSessions = this.deviceSessions;
      this.resident = {
        open: (graph, options) => cached(deviceSessions, graph, `${setupKey(options)}|${this.planKey(graph)}`, () => device.open(graph, options)),
        upload: (t) => device.upload(t),
        allocate: (dims) => device.allocate(dims),
        write: (t, data) => device.write(t, data),
        read: (t) => device.read(t),
        whenIdle: () => device.whenIdle(),
        get readbacks() {
          return device.readbacks;
        },
      };
    }
  }

  get device() {
    return this.inner.device;
  }

  get stats() {
    return this.inner.stats;
  }

  open(graph: GraphName): Promise<GraphSession> {
    return cached(this.sessions, graph, this.planKey(graph), () => this.inner.open(graph));
  }

  useSessionPlan(plan: SessionPlan): void {
    this.sessionPlan = plan;
    this.inner.useSessionPlan?.(plan);
  }

  /** A session made with another attention chunking or split is replaced, not reused. */
  private planKey(graph: GraphName): string {
    return JSON.stringify([this.sessionPlan.attention?.[graph] ?? null, this.sessionPlan.parts?.[graph] ?? 1]);
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    const all = [...this.sessions.values(), ...this.deviceSessions.values()];
    this.sessions.clear();
    this.deviceSessions.clear();
    await Promise.allSettled(all.map(async (e) => (await e.session).release()));
  }
}

function setupKey(o: DeviceSessionOptions): string {
  const shapes = Object.keys(o.shapes)
    .sort()
    .map((k) => `${k}=${o.shapes[k].join('x')}`);
  return `${shapes.join(';')}|capture=${!!o.capture}`;
}

/** The cached session for `graph` and `key` (created on first use, replacing one of another key), with a release() that keeps it open. */
async function cached<S extends { release(): Promise<void> }>(cache: Map<GraphName, Entry<S>>, graph: GraphName, key: string, create: () => Promise<S>): Promise<S> {
  let entry = cache.get(graph);
  if (entry && entry.key !== key) {
    cache.delete(graph);
    await (await entry.session.catch(() => undefined))?.release();
    entry = undefined;
  }
  if (!entry) {
    const made: Entry<S> = { key, session: create() };
    entry = made;
    cache.set(graph, made);
    made.session.catch(() => {
      if (cache.get(graph) === made) cache.delete(graph);
    });
  }
  const s = await entry.session;
  return { ...s, release: async () => {} };
}
