/**
 * The Hugging Face Hub, as the app uses it: parse what the user typed into a repository id, list a revision's files
 * (sizes and LFS sha256), and open files for the resumable transfer engine (src/models/transfer-file.ts); which files
 * of a listing make an SVD checkpoint is checkpoint-files.ts. Every failure becomes a ModelDeliveryError
 * whose message names the repository, the file and what to do. Plain fetch only: runs in a Web Worker and in Node.
 */
import { withResponseTimeout } from '../models/download-files.ts';
import { ModelDeliveryError, cancelled } from '../models/errors.ts';
import { backoffMs } from '../models/plan.ts';

export const HUB_URL = 'https://huggingface.co';
export const TOKENS_PAGE = 'https://huggingface.co/settings/tokens';
export const EXAMPLE_REPO = 'stabilityai/stable-video-diffusion-img2vid-xt';

export interface HubFile {
  path: string;
  bytes: number;
  /** LFS sha256 hex; absent for small git-stored files */
  sha256?: string;
}

export interface HubListing {
  repo: string;
  revision: string;
  /** the commit the revision pointed at when listed: download from it so a push mid-download cannot mix versions */
  commit: string;
  gated: false | 'auto' | 'manual';
  files: HubFile[];
}

export interface RepoRef {
  repo: string;
  revision: string;
}

// The Hub's rule for owner and name (huggingface_hub's validate_repo_id): word characters, '-' and '.', not at
// either end, no '--' or '..', 96 characters at most for owner/name.
const PART = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const validRepo = (owner: string, name: string) =>
  PART.test(owner) && PART.test(name) && !/--|\.\./.test(`${owner}/${name}`) && owner.length + name.length + 1 <= 96;

/** `owner/name`, `owner/name@rev`, `https://huggingface.co/owner/name[/tree/rev]` → repo id and revision ('main'). */
export function parseRepoInput(text: string): RepoRef {
  const typed = text.trim();
  const bad = () =>
    new ModelDeliveryError('not-found', `"${typed}" is not a Hugging Face repository id: write it as owner/name, e.g. ${EXAMPLE_REPO}` + ` (or paste its https://huggingface.co/… address).`, { input: typed });
  let parts: string[];
  let revision = 'main';
  if (/^https?:\/\//i.test(typed)) {
    let url: URL;
    try {
      url = new URL(typed);
    } catch {
      throw bad();
    }
    if (!/^(www\.)?(huggingface\.co|hf\.co)$/i.test(url.hostname)) throw bad();
    parts = url.pathname.split('/').filter(Boolean);
    if (parts.length === 4 && parts[2] === 'tree') {
      try {
        revision = decodeURIComponent(parts[3]);
      } catch {
        throw bad();
      }
      parts = parts.slice(0, 2);
    }
  } else {
    const at = typed.indexOf('@');
    if (at >= 0) {
      revision = typed.slice(at + 1);
      parts = typed.slice(0, at).split('/');
    } else parts = typed.replace(/\/+$/, '').split('/');
  }
  if (parts.length !== 2 || !validRepo(parts[0], parts[1]) || !revision || /\s/.test(revision)) throw bad();
  return { repo: `${parts[0]}/${parts[1]}`, revision };
}

const trimSlash = (u: string) => u.replace(/\/+$/, '');

export function resolveUrl(hubUrl: string, repo: string, revision: string, path: string): string {
  return `${trimSlash(hubUrl)}/${repo}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function modelPageUrl(hubUrl: string, repo: string): string {
  return `${trimSlash(hubUrl)}/${repo}`;
}

/** The token goes to the Hub's own origin only: never to the file host it redirects to, nor to any other URL. */
export function authHeaders(hubUrl: string, url: string, token?: string): Record<string, string> {
  if (!token) return {};
  try {
    return new URL(url).origin === new URL(hubUrl).origin ? { Authorization: `Bearer ${token}` } : {};
  } catch {
    return {};
  }
}

export interface FailureContext {
  hubUrl: string;
  repo: string;
  revision: string;
  path?: string;
  hasToken: boolean;
}

/** A refusal by the Hub (`X-Error-Code`, `X-Error-Message`) in words the user can act on. */
export function hubFailure(res: { status: number; headers: Headers }, ctx: FailureContext): ModelDeliveryError {
  const { status } = res;
  const code = res.headers.get('X-Error-Code') ?? '';
  const hubMessage = res.headers.get('X-Error-Message') ?? '';
  const page = modelPageUrl(ctx.hubUrl, ctx.repo);
  const details = { status, errorCode: code || undefined, hubMessage: hubMessage || undefined, repo: ctx.repo, revision: ctx.revision, path: ctx.path };
  const what = ctx.path ? `${ctx.path} of ${ctx.repo}` : ctx.repo;
  const fail = (c: ConstructorParameters<typeof ModelDeliveryError>[0], message: string) => new ModelDeliveryError(c, message, details);

  // Not signed in, the Hub answers 401 (not 404) for a repository it does not show: it may be private.
  if ((status === 401 || status === 404) && code === 'RepoNotFound') {
    return fail('not-found', `Hugging Face has no repository ${ctx.repo}. Check the spelling; a private repository also needs an access token.`);
  }
  if (status === 401) {
    if (ctx.hasToken) {
      return fail('gated', `Hugging Face did not accept the access token (it may have expired or been mistyped). Create a new read token at ${TOKENS_PAGE}, paste it into the token field, then retry.`);
    }
    return fail(
      'gated',
      `${ctx.repo} is a gated repository: Hugging Face needs your permission to download it. Accept its licence on the model page (${page}), ` +
        `create a read access token at ${TOKENS_PAGE}, paste it into the token field, then retry.`,
    );
  }
  if (status === 403) {
    return fail('licence', `You have not accepted the licence of ${ctx.repo} yet (or your access request is still pending). Open the model page (${page}), accept the licence there, then retry.`);
  }
  if (status === 404 && code === 'RevisionNotFound') {
    return fail('not-found', `${ctx.repo} has no revision "${ctx.revision}". Check the branch, tag or commit; the default is main.`);
  }
  if (status === 404) {
    if (ctx.path) return fail('not-found', `${ctx.repo} has no file ${ctx.path} at revision "${ctx.revision}".`);
    return fail('not-found', `Hugging Face has no repository ${ctx.repo}. Check the spelling; a private repository also needs an access token.`);
  }
  if (status === 429 || status >= 500) return retryGaveUp(what, 1, `HTTP ${status}`);
  return fail('http', `Hugging Face answered HTTP ${status} for ${what}${hubMessage ? `: ${hubMessage}` : ''}.`);
}

/** The retries ran out. `lastReason` like 'HTTP 429', 'HTTP 503' or a connection error's message picks the advice. */
export function retryGaveUp(what: string, attempts: number, lastReason: string): ModelDeliveryError {
  const advice = /\b429\b/.test(lastReason)
    ? 'Hugging Face is limiting the rate of requests; wait a few minutes.'
    : /\bHTTP 5\d\d\b/.test(lastReason)
      ? 'Hugging Face is having trouble; try again later.'
      : 'Check the internet connection.';
  return new ModelDeliveryError(
    'network',
    `Gave up on ${what} after ${attempts} attempt${attempts === 1 ? '' : 's'} (${lastReason}). ${advice} The bytes fetched so far are kept; Retry resumes from there.`,
    { attempts, lastReason },
  );
}

/** An abortable wait; rejects with cancelled() when the signal fires. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After` (seconds or an HTTP date) in ms; null when absent or unreadable. */
function retryAfterMs(v: string | null): number | null {
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

export interface ListingOptions {
  hubUrl?: string;
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  maxAttempts?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  /** per attempt, body included */
  timeoutMs?: number;
}

/** The files (sizes, LFS sha256) of a revision, and the commit it points at. Retries 429, 5xx and lost connections. */
export async function fetchRepoListing(ref: RepoRef, opts: ListingOptions = {}): Promise<HubListing> {
  const hubUrl = trimSlash(opts.hubUrl ?? HUB_URL);
  const fetchFn = opts.fetch ?? fetch;
  const { maxAttempts = 4, backoffBaseMs = 500, backoffCapMs = 8000, timeoutMs = 30_000, signal } = opts;
  const url = `${hubUrl}/api/models/${ref.repo}/revision/${encodeURIComponent(ref.revision)}?blobs=true`;
  const ctx: FailureContext = { hubUrl, repo: ref.repo, revision: ref.revision, hasToken: !!opts.token };
  const what = `the file list of ${ref.repo}`;
  let lastReason = '';
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw cancelled();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, timeoutMs);
    let text: string | null = null;
    let waitHint: number | null = null;
    try {
      // never a stale listing from the HTTP cache (`cache` is in the DOM's RequestInit, not in @types/node's)
      const init: RequestInit & { cache?: 'no-store' } = { headers: authHeaders(hubUrl, url, opts.token), cache: 'no-store', signal: ctl.signal };
      const res = await fetchFn(url, init);
      if (res.ok) text = await res.text();
      else {
        await res.body?.cancel().catch(() => undefined);
        if (res.status !== 429 && res.status !== 408 && res.status < 500) throw hubFailure(res, ctx);
        lastReason = `HTTP ${res.status}`;
        waitHint = retryAfterMs(res.headers.get('Retry-After'));
      }
    } catch (e) {
      if (e instanceof ModelDeliveryError) throw e;
      if (signal?.aborted) throw cancelled();
      lastReason = timedOut ? `no answer within ${Math.round(timeoutMs / 1000)} s` : e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    if (text !== null) return parseListing(text, ref);
    if (attempt >= maxAttempts) throw retryGaveUp(what, attempt, lastReason);
    await sleep(waitHint !== null ? Math.min(waitHint, backoffCapMs) : backoffMs(attempt, backoffBaseMs, backoffCapMs), signal);
  }
}

interface HubSibling {
  rfilename?: unknown;
  size?: unknown;
  lfs?: { sha256?: unknown; size?: unknown } | null;
}

function parseListing(text: string, ref: RepoRef): HubListing {
  const notUnderstood = (why: string) =>
    new ModelDeliveryError('http', `The Hugging Face Hub's answer for ${ref.repo} was not understood (${why}); try again later.`, { repo: ref.repo, revision: ref.revision });
  let json: { id?: unknown; sha?: unknown; gated?: unknown; siblings?: unknown };
  try {
    json = JSON.parse(text);
  } catch {
    throw notUnderstood('not JSON');
  }
  if (!json || typeof json !== 'object' || typeof json.sha !== 'string' || !Array.isArray(json.siblings)) throw notUnderstood('no commit or file list');
  const files = (json.siblings as HubSibling[]).map((s): HubFile => {
    const bytes = typeof s?.lfs?.size === 'number' ? s.lfs.size : s?.size;
    if (typeof s?.rfilename !== 'string' || typeof bytes !== 'number') throw notUnderstood('a file without a name or size');
    return typeof s.lfs?.sha256 === 'string' ? { path: s.rfilename, bytes, sha256: s.lfs.sha256 } : { path: s.rfilename, bytes };
  });
  const gated = json.gated === 'auto' || json.gated === 'manual' ? json.gated : false;
  return { repo: typeof json.id === 'string' ? json.id : ref.repo, revision: ref.revision, commit: json.sha, gated, files };
}

export interface HubFileContext {
  hubUrl: string;
  repo: string;
  revision: string;
  path: string;
  token?: string;
  fetch?: typeof fetch;
  stallTimeoutMs: number;
}

/** Parses `Content-Range: bytes a-b/total` into its start; -1 when absent or unparseable. */
function rangeStart(v: string | null): number {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec((v ?? '').trim());
  return m ? Number(m[1]) : -1;
}

/**
 * The source transferFile reads one Hub file from, with the contract of download-files.ts's httpSource: resolves to
 * where the body starts (-1: the server's range is unusable, start over), throws ModelDeliveryError for what retrying
 * cannot fix and a plain Error for what it may (429, 408, 5xx, a lost connection).
 * `url` is the resolve URL: each call asks the Hub again, so a resume gets a freshly signed file-host address.
 */
export function openHubFile(url: string, ctx: HubFileContext): (offset: number, signal: AbortSignal) => Promise<{ start: number; body: ReadableStream<Uint8Array> }> {
  const fetchFn = ctx.fetch ?? fetch;
  return async (offset, signal) => {
    // fetch follows the 302 to the file host; the Authorization header is dropped on that cross-origin hop
    const headers: Record<string, string> = { ...authHeaders(ctx.hubUrl, url, ctx.token), ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) };
    const res = await withResponseTimeout(fetchFn(url, { headers, signal }), ctx.stallTimeoutMs, () => `Hugging Face sent no answer for ${ctx.path} within ${Math.round(ctx.stallTimeoutMs / 1000)} s`);
    if (res.status === 416) {
      // our offset is beyond the file on the server: start over
      await res.body?.cancel().catch(() => undefined);
      return { start: -1, body: new ReadableStream<Uint8Array>({ start: (c) => c.close() }) };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 408 || res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}`);
      // A refusal by the file host (not the Hub) is its signed address expiring: asking the Hub again fixes it.
      if ((res.status === 401 || res.status === 403) && res.url && !sameOrigin(res.url, ctx.hubUrl)) throw new Error(`HTTP ${res.status} from the file host`);
      throw hubFailure(res, { hubUrl: ctx.hubUrl, repo: ctx.repo, revision: ctx.revision, path: ctx.path, hasToken: !!ctx.token });
    }
    if (!res.body) throw new Error(`empty response for ${ctx.path}`);
    return { start: res.status === 206 ? rangeStart(res.headers.get('Content-Range')) : 0, body: res.body };
  };
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}
