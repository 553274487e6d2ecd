/**
 * Keeps sessions open between generations when the whole model fits comfortably in memory (the pipeline
 * still calls release() after each stage; here that only returns the session to the cache). Large models
 * are used without it, so at most one big graph is resident.
 */
import type { GraphName } from '../models/manifest.ts';
import type { GraphSession, ModelRuntime } from './types.ts';

export class CachingRuntime implements ModelRuntime {
  private readonly sessions = new Map<GraphName, Promise<GraphSession>>();

  constructor(private readonly inner: ModelRuntime) {}

  get device() {
    return this.inner.device;
  }

  get stats() {
    return this.inner.stats;
  }

  async open(graph: GraphName): Promise<GraphSession> {
    let session = this.sessions.get(graph);
    if (!session) {
      session = this.inner.open(graph);
      this.sessions.set(graph, session);
      session.catch(() => this.sessions.delete(graph));
    }
    const s = await session;
    return { run: (feeds) => s.run(feeds), release: async () => {} };
  }

  /** Releases every cached session. */
  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled(all.map(async (s) => (await s).release()));
  }
}
