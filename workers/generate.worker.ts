/// <reference lib="webworker" />
/**
 * The generation worker: owns the GPU device and the model and runs one job at a time. All of it is the
 * in-process engine over the browser's ModelHost, served through the generation protocol (src/protocol/generate.ts).
 */
import { InProcessEngine } from '../src/engine/in-process.ts';
import { serveGenerateProtocol } from '../src/engine/worker-host.ts';
import { WebModelHost } from '../src/engine/web-host.ts';

declare const self: DedicatedWorkerGlobalScope;

serveGenerateProtocol(self as never, new InProcessEngine(new WebModelHost()));
