/**
 * OpenTelemetry tracing for one service process, configured by the standard OTEL_*
 * variables (read once in config.ts). Off by default: then no provider is registered, the
 * API's tracers are no-ops, and the platform's own spans (messages, SQL) are skipped on a
 * flag, so tracing costs nothing measurable until it is turned on.
 *
 * What is traced, and by whom:
 * - HTTP in: @fastify/otel, registered on each app by `instrumentHttp` (it honours an
 *   incoming `traceparent`);
 * - HTTP out: @opentelemetry/instrumentation-undici, which listens on undici's diagnostics
 *   channels (no patching, so it works whenever it is enabled) and adds `traceparent` to
 *   every call;
 * - messages and SQL: the platform's own spans (message-spans.ts, sql-spans.ts), made at
 *   the Bus and Db ports so the embedded log and Kafka, SQLite and PostgreSQL, give the same
 *   spans. (Patching `pg` with its instrumentation would need a loader hook before any
 *   import, and still leave SQLite and the embedded log to do by hand.)
 */
import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Attributes, type Tracer } from '@opentelemetry/api';
import FastifyOtel from '@fastify/otel';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FastifyInstance } from 'fastify';
import type { TracingConfig } from '../config.ts';
import type { Logger } from '../log.ts';

const { FastifyOtelInstrumentation } = FastifyOtel;

export interface Tracing {
  readonly enabled: boolean;
  /** Adds a server span per request to `app` (before its routes are registered). */
  instrumentHttp(app: FastifyInstance): void;
  /** Exports the spans still buffered; called on shutdown. */
  shutdown(): Promise<void>;
}

let on = false;
let platformTracer: Tracer = trace.getTracer('orderflow');

/** True once tracing was started in this process: the platform's spans check it first. */
export function tracingOn(): boolean {
  return on;
}

/** The tracer of the platform's own spans (messaging, SQL, saga steps). */
export function tracer(): Tracer {
  return platformTracer;
}

// The admin overview and the services' statuses it gathers too: the console polls them every
// few seconds, which would bury the traces worth reading under one trace per poll.
const untraced = /^\/(health|metrics|_faults|_admin\/status|api\/admin\/overview)(\/|\?|$)/;

const off: Tracing = { enabled: false, instrumentHttp() {}, shutdown: async () => {} };

/** Starts tracing for `service` as configured; a no-op handle when the exporter is none. */
export async function startTracing(config: TracingConfig, service: string, log: Logger): Promise<Tracing> {
  if (config.exporter === 'none') return off;
  const exporter = await createExporter(config);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName ?? service }),
    sampler: sampler(config),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The W3C trace-context propagator and an AsyncLocalStorage context manager.
  provider.register();
  // Enabled on construction; it uses the provider just registered as the global one. A call
  // made for no traced work (a health probe, a scrape) would start a trace of its own.
  new UndiciInstrumentation({ requireParentforSpans: true });
  const http = new FastifyOtelInstrumentation({
    // A span per lifecycle hook would multiply the spans of every request by ten.
    instrumentHooks: false,
    // Probes, scrapes, the console's polls and the lab's fault switch are not what anyone traces.
    ignorePaths: (route) => untraced.test(route.url),
    requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`),
  });
  http.setTracerProvider(provider);
  platformTracer = provider.getTracer('orderflow');
  on = true;
  log.info({ exporter: config.exporter, endpoint: config.exporter === 'zipkin' ? config.zipkinEndpoint : config.otlpEndpoint, sampler: config.sampler }, 'tracing on');
  return {
    enabled: true,
    instrumentHttp(app) {
      app.register(http.plugin());
    },
    async shutdown() {
      await provider.shutdown().catch((err) => log.warn({ err }, 'tracing shutdown failed'));
    },
  };
}

async function createExporter(config: TracingConfig): Promise<SpanExporter> {
  if (config.exporter === 'zipkin') {
    const { ZipkinExporter } = await import('@opentelemetry/exporter-zipkin');
    return new ZipkinExporter({ url: config.zipkinEndpoint, serviceName: config.serviceName });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter({ url: config.otlpEndpoint });
}

function sampler(config: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerArg);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * The W3C `traceparent` of the active span (the span that is emitting a message), or
 * undefined when tracing is off or nothing is being traced.
 */
export function activeTraceparent(): string | undefined {
  if (!on) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/**
 * The trace id (32 hex) of the active span when it is sampled, so that the trace it names is
 * one the exporter was given (a link to it finds it); undefined otherwise, or when tracing is off.
 */
export function activeTraceId(): string | undefined {
  if (!on) return undefined;
  const span = trace.getSpan(context.active())?.spanContext();
  if (span === undefined || !isSpanContextValid(span) || (span.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return span.traceId;
}

/**
 * Runs `fn` in an INTERNAL span named `name`, a child of the active span (a pass-through
 * when tracing is off; `attributes` is only called when tracing): for steps worth seeing in a trace, such as a saga's.
 */
export function inSpan<T>(name: string, attributes: () => Attributes, fn: () => Promise<T>): Promise<T> {
  if (!on || trace.getSpan(context.active()) === undefined) return fn();
  return platformTracer.startActiveSpan(name, { attributes: attributes() }, (span) =>
    fn().then(
      (result) => {
        span.end();
        return result;
      },
      (err) => {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
        span.end();
        throw err;
      },
    ),
  );
}

/** A span of no duration under the active one, marking a decision (a step of a saga driven by calls). */
export function markSpan(name: string, attributes: () => Attributes): void {
  if (!on || trace.getSpan(context.active()) === undefined) return;
  platformTracer.startSpan(name, { attributes: attributes() }).end();
}

/** `fn`, to run outside whatever is being traced now (background work a request only woke up). */
export function detached<F extends (...args: never[]) => unknown>(fn: F): F {
  return on ? context.bind(ROOT_CONTEXT, fn) : fn;
}

/** `fn`, to run in the trace of its caller wherever it is run later (a job queued for a shared transaction). */
export function boundToCaller<F extends (...args: never[]) => unknown>(fn: F): F {
  return on ? context.bind(context.active(), fn) : fn;
}
