/**
 * The MQTT topics of one pipeline's edge agents, as the agent builds them (device/src/publish.ts):
 * results at `{root}/results/{runId}/{thingName}`, telemetry at
 * `{root}/telemetry/{deviceClass}/{thingName}` (predictions one level below). Each pipeline has a
 * root of its own, so its rules never read another pipeline's devices.
 */
export class AgentTopics {
  /** The root of an agent component no pipeline configured. */
  public static readonly DEFAULT_ROOT = 'edge-model-pipeline';
  /** A root's shape: 1 to 4 levels (so the deepest topic stays within IoT Core's 7 slashes). */
  public static readonly ROOT_PATTERN = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){0,3}$/;

  /** The topic root of pipeline `pipelineName` in stack `stackName`. */
  public static ofPipeline(stackName: string, pipelineName: string): AgentTopics {
    return new AgentTopics(`${AgentTopics.DEFAULT_ROOT}/${stackName}/${pipelineName}`);
  }

  constructor(public readonly root: string) {}

  /** Where results go, one level per run id and thing below. */
  public get results(): string {
    return `${this.root}/results`;
  }

  /** Where telemetry goes, one level per device class and thing below. */
  public get telemetry(): string {
    return `${this.root}/telemetry`;
  }

  /** The level of a topic below the root's last, counted from 1 as IoT SQL's `topic(n)` counts. */
  public level(below: number): number {
    return this.root.split('/').length + below;
  }
}
