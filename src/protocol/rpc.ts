/**
 * The shape every worker protocol of svd-web shares (the pattern of onnxruntime-web's proxy-messages.ts, with the
 * answer declared beside the request): a protocol is ONE table, one row per call, and each row says what the call
 * carries in, the events it streams while it runs, and the messages that end it. The message unions both sides
 * post are derived from that table, so adding a call is one row and the compiler finds every place to handle it.
 *
 *   interface MyProtocol {
 *     fetch: { carries: { url: string }; events: { progress: number }; answers: { done: Stats } };
 *   }
 *   type In = CallMessage<MyProtocol>    // { kind: 'fetch'; id; payload: { url } } | { kind: 'cancel'; ... }
 *   type Out = ReplyMessage<MyProtocol>  // { kind: 'progress'; id; payload: number } | { kind: 'done'; ... } | error
 */

export interface CallSpec {
  /** the request's payload */
  carries: unknown;
  /** messages sent while the call runs (none end it) */
  events: Record<string, unknown>;
  /** the messages that end the call, one of which answers it */
  answers: Record<string, unknown>;
}

/** A protocol table: every row a CallSpec. */
export type Protocol<P> = { [K in keyof P]: CallSpec };

type Envelope<M> = { [K in keyof M]: { kind: K; id: number; payload: M[K] } }[keyof M];

/** Stops the call with `callId` (the worker decides where it can stop). */
export interface CancelMessage {
  kind: 'cancel';
  id: number;
  payload: { callId: number };
}

/** Ends any call: the worker could not do it. */
export interface ErrorMessage<Code extends string> {
  kind: 'error';
  id: number;
  payload: { code: Code; message: string; details?: Record<string, unknown> };
}

/** UI → worker. */
export type CallMessage<P extends Protocol<P>> = { [K in keyof P]: { kind: K; id: number; payload: P[K]['carries'] } }[keyof P] | CancelMessage;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** Every event of every call, by kind. */
export type EventsOf<P extends Protocol<P>> = UnionToIntersection<P[keyof P]['events']>;
/** Every answer of every call, by kind. */
export type AnswersOf<P extends Protocol<P>> = UnionToIntersection<P[keyof P]['answers']>;

/** worker → UI: an event or an answer of the call with the same id, or an error ending it. */
export type ReplyMessage<P extends Protocol<P>, Code extends string> =
  | Envelope<EventsOf<P>>
  | Envelope<AnswersOf<P>>
  | ErrorMessage<Code>;

/** The message that ends call K (an error ends every call, as a rejection). */
export type AnswerOf<P extends Protocol<P>, K extends keyof P> = Envelope<P[K]['answers']>;
