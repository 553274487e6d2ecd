/**
 * Keeps sessions open between generations when the whole model fits comfortably in memory (the pipeline
 * still calls release() after each stage; here that only returns the session to the cache). Large models
 * are used without it, so at most one big graph is resident.
 */
import type { GraphName } from '../models/manifest.ts';
import type { DeviceResidency, DeviceSession, GraphSession, ModelRuntime } from './types.ts';

export class CachingRuntime implements ModelRuntime {
  private readonly sessions = new Map<GraphName, Promise<GraphSession>>();
  private readonly deviceSessions = new Map<GraphName, Promise<DeviceSession>>();
  readonly resident?: DeviceResidency;

  constructor(private readonly inner: ModelRuntime) {
    const device = inner.resident;
    if (device) {
      this.resident = {
        open: (graph) => cached(this.deviceSessions, graph, () => device.open(graph)),
        upload: (t) => device.upload(t),
        read: (t) => device.read(t),
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
    return cached(this.sessions, graph, () => this.inner.open(graph));
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    const all = [...this.sessions.values(), ...this.deviceSessions.values()];
    this.sessions.clear();
    this.deviceSessions.clear();
    await Promise.allSettled(all.map(async (s) => (await s).release()));
  }
}

/** The cached session for `graph` (created on first use), with a release() that keeps it open. */
async function cached<S extends { release(): Promise<void> }>(cache: Map<GraphName, Promise<S>>, graph: GraphName, create: () => Promise<S>): Promise<S> {
  let session = cache.get(graph);
  if (!session) {
    session = create();
    cache.set(graph, session);
    session.catch(() => cache.delete(graph));
  }
  const s = await session;
  return { ...s, release: async () => {} };
}
