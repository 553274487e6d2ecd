/**
 * Filling the app's form for a small local job, as a user does (the picture through the file input, then the fields
 * by their labels), for the specs that drive the app without app.e2e.ts's fixtures.
 */
import { PNG } from 'pngjs';
import type { Page } from '@playwright/test';

/** A width×height PNG with a pattern (not one colour, so frames move). */
export function patternPng(width: number, height: number, seed = 7): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([(i * seed) % 256, (i * (seed + 4)) % 256, 90 + seed * 10, 255], i * 4);
  return PNG.sync.write(png);
}

export interface SmallJob {
  picture: { name: string; width: number; height: number };
  frames: number;
  steps: number;
  width: number;
  height: number;
  maxGuidance?: number;
}

/** Loads the picture and sets frames, steps, (max guidance) and a custom size under Advanced. */
export async function fillSmallJob(page: Page, job: SmallJob): Promise<void> {
  const { picture } = job;
  await page.getByTestId('file-input').setInputFiles({ name: picture.name, mimeType: 'image/png', buffer: patternPng(picture.width, picture.height) });
  await page.getByLabel('Frames', { exact: true }).fill(String(job.frames));
  if (!(await page.locator('details.advanced').evaluate((d) => (d as HTMLDetailsElement).open))) await page.getByText('Advanced (this device only)').click();
  await page.getByLabel('Steps', { exact: true }).fill(String(job.steps));
  if (job.maxGuidance !== undefined) await page.getByLabel('Max guidance', { exact: true }).fill(String(job.maxGuidance));
  await page.getByLabel('Resolution', { exact: true }).selectOption('custom');
  await page.getByLabel('Width', { exact: true }).fill(String(job.width));
  await page.getByLabel('Height', { exact: true }).fill(String(job.height));
}
