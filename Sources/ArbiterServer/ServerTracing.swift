import ArbiterCore
import ArbiterObservability
import Logging
import OTel
import ServiceLifecycle

/// OpenTelemetry tracing (swift-otel), when configured: spans exported over OTLP/gRPC in batches
/// by a service that runs in the server's service group (and sends what is left at shutdown).
/// Only traces: the metrics stay Prometheus' and the logs the console's.
struct ServerTracing {
  /// What the doors start their spans with.
  let tracing: RequestTracing
  /// The exporter's background work.
  let service: any Service

  /// The tracer and its exporter for `settings`; throws naming the setting when swift-otel refuses it.
  init(_ settings: ArbiterConfiguration.Tracing, logger: Logger) throws(ArbiterError) {
    var configuration = OTel.Configuration.default
    configuration.serviceName = settings.serviceName
    configuration.logs.enabled = false
    configuration.metrics.enabled = false
    configuration.traces.enabled = true
    configuration.traces.exporter = .otlp
    configuration.traces.otlpExporter.protocol = .grpc
    configuration.traces.otlpExporter.endpoint = settings.endpoint
    configuration.traces.batchSpanProcessor.scheduleDelay = settings.exportInterval
    configuration.propagators = [.traceContext]
    configuration.diagnosticLogger = .custom(logger)
    guard let sampler = SamplerRatio.sampler(settings.sampleRatio) else {
      throw ArbiterError(.invalidArgument, "tracing.sample-ratio must be in [0, 1], got \(settings.sampleRatio)")
    }
    configuration.traces.sampler = sampler
    do {
      let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
      tracing = RequestTracing(tracer: tracer)
      self.service = service
    } catch {
      throw ArbiterError(.invalidArgument, "tracing: cannot export to '\(settings.endpoint)': \(error)")
    }
  }
}

/// A sample ratio as swift-otel's sampler: a caller's sampled `traceparent` is always followed.
private enum SamplerRatio {
  static func sampler(_ ratio: Double) -> OTel.Configuration.TracesConfiguration.SamplerConfiguration? {
    guard ratio.isFinite, ratio >= 0, ratio <= 1 else { return nil }
    return ratio == 1 ? .parentBasedAlwaysOn : .parentBasedTraceIDRatio(ratio: ratio)
  }
}
