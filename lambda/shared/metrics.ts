/**
 * The CloudWatch Embedded Metric Format fields of counts by device class, to
 * spread into a log line next to the counts themselves. A function that
 * belongs to a pipeline (PIPELINE_NAME set) also counts by Pipeline, and by
 * Pipeline and DeviceClass, so the pipeline's alarms and dashboard see only
 * its own runs; a standalone construct counts by DeviceClass only.
 */
export function countsByClass(metricNames: string[], deviceClass: string, now: Date, pipeline: string | undefined = process.env.PIPELINE_NAME): Record<string, unknown> {
  const dimensions = pipeline ? [['Pipeline'], ['Pipeline', 'DeviceClass']] : [['DeviceClass']];
  return {
    _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: dimensions, Metrics: metricNames.map((Name) => ({ Name, Unit: 'Count' })) }] },
    DeviceClass: deviceClass,
    ...(pipeline ? { Pipeline: pipeline } : {}),
  };
}
