import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledgements';
import { checkIntegerRange, ProblemCollector } from './errors';
import { logEncryptionKey } from './keys';

/**
 * Props for {@link PipelineStateMachine}.
 */
export interface PipelineStateMachineProps {
  /** The states to run, such as a `NeoCompilation` fragment. */
  readonly definition: sfn.IChainable;
  /**
   * The longest a run may take: 1 minute to 365 days.
   *
   * @default Duration.days(7)
   */
  readonly timeout?: Duration;
  /**
   * How long execution logs are kept.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Standard state machine set up as an auditor expects: execution logs at
 * level ALL (with data) in a KMS-encrypted log group with a retention
 * period, X-Ray tracing on, and a run timeout.
 */
export class PipelineStateMachine extends Construct {
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** The log group that receives the execution logs. */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PipelineStateMachineProps) {
    super(scope, id);
    const problems = new ProblemCollector();
    checkIntegerRange(problems, 'timeout', props.timeout?.toSeconds(), 60, 365 * 24 * 3600, 'seconds');
    problems.throwIfAny(this);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: logEncryptionKey(this),
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Resource', {
      definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: props.timeout ?? Duration.days(7),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    acknowledge(this.stateMachine.role, 'STATE_MACHINE_WILDCARDS', ['Resource::*']);
    // Step Functions refuses a definition over 1 MB when the stack deploys: say so at synth.
    this.node.addValidation({ validate: () => this.definitionProblems() });
  }

  private definitionProblems(): string[] {
    const cfn = this.stateMachine.node.defaultChild as sfn.CfnStateMachine;
    const bytes = estimatedBytes(Stack.of(this).resolve(cfn.definitionString));
    if (bytes <= MAX_DEFINITION_BYTES) return [];
    return [`definition: the state machine's definition is about ${Math.round(bytes / 1024)} KB; Step Functions accepts at most 1 MB (${MAX_DEFINITION_BYTES} bytes) and the deployment would fail. Split the work over state machines (an EdgeModelPipeline grows by about 5 KB per device class: give each pipeline fewer classes).`];
  }
}

/** Step Functions' limit on one state machine's definition. */
const MAX_DEFINITION_BYTES = 1_048_576;

/**
 * The bytes of a resolved definition once CloudFormation has put the ARNs and names in: its
 * literal text, and about 100 bytes for each reference (an ARN is rarely longer).
 */
function estimatedBytes(resolved: unknown): number {
  if (typeof resolved === 'string') return Token.isUnresolved(resolved) ? 100 : Buffer.byteLength(resolved);
  if (Array.isArray(resolved)) return resolved.reduce((n: number, part) => n + estimatedBytes(part), 0);
  if (resolved && typeof resolved === 'object') {
    const [fn, args] = Object.entries(resolved)[0] ?? [];
    if (fn === 'Fn::Join' && Array.isArray(args)) return estimatedBytes(args[1]);
    return 100;
  }
  return String(resolved).length;
}
