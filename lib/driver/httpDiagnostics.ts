import diagnosticsChannel from 'diagnostics_channel';
import type { Agent, ClientRequest } from 'http';

type RequestListener = (request: ClientRequest) => void;

const listeners = new Map<Agent, RequestListener>();

function onRequestStart(message: unknown): void {
  const request = (message as { request?: ClientRequest })?.request;
  const agent = (request as { agent?: Agent } | undefined)?.agent;
  const listener = agent ? listeners.get(agent) : undefined;
  if (listener) {
    try {
      listener(request as ClientRequest);
    } catch {
      // Observation must never disturb the request; listeners log their own failures.
    }
  }
}

/**
 * Routes `http.client.request.start` events of one connection's agent to its listener. The
 * channel is subscribed only while some connection with telemetry on has had CloudFetch links:
 * disabled, or without CloudFetch, costs nothing per request.
 */
export function watchAgent(agent: Agent, listener: RequestListener): void {
  if (listeners.size === 0) {
    diagnosticsChannel.subscribe('http.client.request.start', onRequestStart);
  }
  listeners.set(agent, listener);
}

export function unwatchAgent(agent: Agent): void {
  if (listeners.delete(agent) && listeners.size === 0) {
    diagnosticsChannel.unsubscribe('http.client.request.start', onRequestStart);
  }
}
