/** Reads a Playwright JSON report (reporter 'json') as a flat list of tests. */
import { readFileSync } from 'node:fs';

export interface ReportedTest {
  /** describe titles and the test's title, joined with ' › ' */
  title: string;
  file: string;
  tags: string[];
  /** 'expected' | 'unexpected' | 'skipped' | 'flaky' */
  status: string;
  annotations: { type: string; description?: string }[];
  results: { status: string; attachments: { name: string; path?: string; contentType: string }[] }[];
}

interface JsonSuite {
  title: string;
  file: string;
  specs?: { title: string; file: string; tags?: string[]; tests: { status: string; annotations?: { type: string; description?: string }[]; results: ReportedTest['results'] }[] }[];
  suites?: JsonSuite[];
}

export function readJsonReport(path: string): { tests: ReportedTest[]; stats: Record<string, number> } {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { suites: JsonSuite[]; stats: Record<string, number> };
  const tests: ReportedTest[] = [];
  const walk = (suite: JsonSuite, titles: string[]) => {
    // the top-level suite of a file is titled with the file name
    const path = suite.title && suite.title !== suite.file ? [...titles, suite.title] : titles;
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests) {
        tests.push({ title: [...path, spec.title].join(' › '), file: spec.file, tags: spec.tags ?? [], status: t.status, annotations: t.annotations ?? [], results: t.results });
      }
    }
    for (const child of suite.suites ?? []) walk(child, path);
  };
  for (const s of json.suites) walk(s, []);
  return { tests, stats: json.stats };
}
