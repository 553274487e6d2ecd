/**
 * The site's storage as the UI thread sees it (navigator.storage): the quota check before a transfer starts, the
 * request for persistent storage, and the status the model manager shows.
 */
import { ModelDeliveryError } from './errors.ts';
import { quotaShortfall } from './plan.ts';

/** Asks for persistent storage; null when not supported or when asking failed. */
export async function requestPersistence(): Promise<boolean | null> {
  try {
    if (!navigator.storage?.persist) return null;
    if (await navigator.storage.persisted?.()) return true;
    return await navigator.storage.persist();
  } catch {
    return null;
  }
}

/** Throws a 'quota' ModelDeliveryError when `neededBytes` will not fit in what the site has left. */
export async function checkQuota(neededBytes: number, what: string): Promise<void> {
  let estimate: StorageEstimate | undefined;
  try {
    estimate = await navigator.storage?.estimate?.();
  } catch {
    estimate = undefined;
  }
  const msg = quotaShortfall(neededBytes, estimate, what);
  if (msg) throw new ModelDeliveryError('quota', msg, { neededBytes, quota: estimate?.quota, usage: estimate?.usage });
}

/** The site's storage: quota, usage, whether it is persistent. */
export async function storageStatus(): Promise<{ quota?: number; usage?: number; persisted: boolean | null }> {
  let est: StorageEstimate | undefined;
  try {
    est = await navigator.storage?.estimate?.();
  } catch {
    est = undefined;
  }
  let persisted: boolean | null = null;
  try {
    persisted = (await navigator.storage?.persisted?.()) ?? null;
  } catch {
    persisted = null;
  }
  return { quota: est?.quota, usage: est?.usage, persisted };
}
