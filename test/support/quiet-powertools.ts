// Handlers under test log and publish metrics through Powertools; keep the test output readable.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'NearstreamTest';
process.env.POWERTOOLS_SERVICE_NAME ??= 'test';
