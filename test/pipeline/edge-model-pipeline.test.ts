import { App, Duration, NestedStack, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  ArtifactStore,
  CompilationTarget,
  CompilerOptions,
  ComponentArchitecture,
  ComponentOs,
  EdgeFleet,
  EdgeModelPipeline,
  EdgeModelPipelineProps,
  Framework,
  InputShape,
  PipelineDeviceClass,
  TargetDevice,
} from '../../lib';
import { problems } from '../support/problems';
import { definitionsOf, rootDefinitionsOf, stateTypes, TEST_ENV } from '../support/state-machine';
import { Account } from '../support/iam/account';
import { storeBucketsOf } from '../support/iam/service-calls';

function setup(overrides: (ctx: { stack: Stack; store: ArtifactStore; fleet: (cls: string, group: string) => EdgeFleet }) => Partial<EdgeModelPipelineProps> = () => ({})) {
  const stack = new Stack(new App(), 'Test');
  const store = new ArtifactStore(stack, 'Store');
  let n = 0;
  const fleet = (cls: string, group: string) => new EdgeFleet(stack, `Fleet${n++}`, { deviceClass: cls, thingNamePrefix: `${cls}-`, store, thingGroupName: group });
  const pi: PipelineDeviceClass = {
    name: 'rasp4b',
    platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
    variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
    canary: fleet('rasp4b', 'pi-canary'),
    rings: [fleet('rasp4b', 'pi-ring1')],
    datasetPath: '/opt/data/dataset.json',
  };
  const props: EdgeModelPipelineProps = {
    pipelineName: 'cams',
    model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },
    store,
    thresholds: { minAccuracy: 0.9 },
    deviceClasses: [pi],
    ...overrides({ stack, store, fleet }),
  };
  return { stack, pipeline: () => new EdgeModelPipeline(stack, 'Pipeline', props), pi };
}


describe('EdgeModelPipeline refuses bad props at synth', () => {
  test('no device class', () => {
    expect(problems(() => setup(() => ({ deviceClasses: [] })).pipeline())).toContain('deviceClasses: got []. Give at least one device class');
  });

  test('a device class without a canary or without fleet groups', () => {
    const s = setup(({ fleet }) => ({
      deviceClasses: [{
        name: 'rasp4b', platform: { os: ComponentOs.LINUX }, variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
        canary: undefined as unknown as EdgeFleet, rings: [], datasetPath: '/d.json',
      }, {
        name: 'gw', platform: { os: ComponentOs.LINUX }, variants: [{ name: 'gw', target: CompilationTarget.device(TargetDevice.ML_C5) }],
        canary: fleet('gw', 'gw-canary'), rings: [], datasetPath: '/d.json',
      }],
    }));
    const message = problems(() => s.pipeline());
    expect(message).toContain('deviceClasses[0].canary: got nothing. Give the canary fleet');
    expect(message).toContain('deviceClasses[0].rings: got []. Give at least one fleet group');
    expect(message).toContain('deviceClasses[1].rings: got []');
  });

  test('a ring that is also the canary', () => {
    const s = setup(({ fleet }) => {
      const shared = fleet('rasp4b', 'pi-shared');
      return { deviceClasses: [{ name: 'rasp4b', platform: { os: ComponentOs.LINUX }, variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }], canary: shared, rings: [shared], datasetPath: '/d.json' }] };
    });
    expect(problems(() => s.pipeline())).toContain('Thing group pi-shared is both the canary of rasp4b and ring 1 of rasp4b');
  });

  test('gate thresholds out of range: accuracy above 1, a latency of zero', () => {
    const message = problems(() => setup(() => ({ thresholds: { minAccuracy: 97, maxP90Latency: Duration.millis(0) } })).pipeline());
    expect(message).toContain('thresholds.minAccuracy: got 97. Use a fraction from 0 to 1');
    expect(message).toContain('thresholds.maxP90Latency: got "0 ms". Give a latency above zero.');
  });

  test('an approval timeout longer than the run may take', () => {
    expect(problems(() => setup(() => ({ approval: { timeout: Duration.days(8) } })).pipeline())).toContain('approval.timeout: got "691200 seconds". An approval cannot wait longer than the run may take (604800 seconds)');
  });

  test('duplicate class names', () => {
    const s = setup(({ fleet }) => ({
      deviceClasses: ['a', 'b'].map((x) => ({
        name: 'rasp4b', platform: { os: ComponentOs.LINUX }, variants: [{ name: `v-${x}`, target: CompilationTarget.device(TargetDevice.RASP4B) }],
        canary: fleet('rasp4b', `canary-${x}`), rings: [fleet('rasp4b', `ring-${x}`)], datasetPath: '/d.json',
      })),
    }));
    expect(problems(() => s.pipeline())).toContain('deviceClasses[1].name: got "rasp4b". deviceClasses[0] has the same name');
  });

  test('a fleet of another class, and a variant name used twice', () => {
    const s = setup(({ fleet }) => ({
      deviceClasses: [
        { name: 'rasp4b', platform: { os: ComponentOs.LINUX }, variants: [{ name: 'edge', target: CompilationTarget.device(TargetDevice.RASP4B) }], canary: fleet('jetson', 'j-canary'), rings: [fleet('rasp4b', 'p1')], datasetPath: '/d.json' },
        { name: 'jetson', platform: { os: ComponentOs.LINUX }, variants: [{ name: 'edge', target: CompilationTarget.device(TargetDevice.JETSON_NANO) }], canary: fleet('jetson', 'j2-canary'), rings: [fleet('jetson', 'j1')], datasetPath: '/d.json' },
      ],
    }));
    const message = problems(() => s.pipeline());
    expect(message).toContain('The canary fleet is of class jetson, not rasp4b');
    expect(message).toContain('rasp4b has a variant with the same name');
  });

  test('a canary quorum outside 1 to 100 %', () => {
    for (const quorumPercentage of [0, 101, 50.5]) {
      expect(problems(() => setup(({ fleet }) => ({
        deviceClasses: [{ name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, canary: fleet('rasp4b', 'pi-canary'), rings: [fleet('rasp4b', 'pi-ring1')], datasetPath: '/opt/data/dataset.json', quorumPercentage }],
      })).pipeline())).toContain(`deviceClasses[0].quorumPercentage: got ${quorumPercentage}. Use a whole number from 1 to 100`);
    }
  });

  test('a pipeline name that cannot prefix job names', () => {
    expect(problems(() => setup(() => ({ pipelineName: 'My_Pipeline' })).pipeline())).toContain('pipelineName: got "My_Pipeline"');
  });
});

describe('EdgeModelPipeline resources', () => {
  test('grants: start runs, read reports, approve', () => {
    const s = setup(() => ({ approval: { timeout: Duration.hours(4) } }));
    const pipeline = s.pipeline();
    const role = new iam.Role(s.stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    pipeline.grantStartRun(role);
    pipeline.grantReadReports(role);
    pipeline.grantApprove(role);
    const text = JSON.stringify(Template.fromStack(s.stack).toJSON().Resources);
    expect(text).toMatch(/"Action":"states:StartExecution","Effect":"Allow","Resource":\{"Ref":"PipelineStateMachine/);
    expect(text).toMatch(/"Action":"lambda:InvokeFunction"/);
    expect(text).toContain('/reports/*');
  });

  test('grantApprove without an approval step says so', () => {
    const s = setup();
    const pipeline = s.pipeline();
    expect(() => pipeline.grantApprove(new iam.Role(s.stack, 'R', { assumedBy: new iam.AccountRootPrincipal() }))).toThrow('this pipeline has no approval step; set the approval prop');
  });

  test('logs at ALL to an encrypted log group, X-Ray on, an encrypted topic, and alarms that notify it (failed runs, reverts, one latency alarm per class)', () => {
    const s = setup();
    s.pipeline();
    const t = Template.fromStack(s.stack);
    t.hasResourceProperties('AWS::StepFunctions::StateMachine', { LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true }, TracingConfiguration: { Enabled: true } });
    expect(Object.values(t.findResources("AWS::SNS::Topic"))[0]).toHaveProperty("Properties.KmsMasterKeyId");
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmActions: unknown[] } }[];
    expect(alarms).toHaveLength(3);
    for (const a of alarms) expect(JSON.stringify(a.Properties.AlarmActions)).toContain('PipelineNotifications');
  });

  test('every alarm watches plain metrics (CloudWatch alarms cannot watch SEARCH), and the revert alarm only this pipeline\'s reverts', () => {
    const s = setup();
    s.pipeline();
    const t = Template.fromStack(s.stack);
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Alarm'))).not.toMatch(/SEARCH/);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'EdgeModelPipeline', MetricName: 'Reverts', Dimensions: [{ Name: 'Pipeline', Value: 'Test/cams' }], Statistic: 'Sum' });
    // The functions that write the gate and revert metrics know the pipeline, so they count by it.
    const envs = Object.values(t.findResources('AWS::Lambda::Function')).map((f) => (f as { Properties: { Description: string; Environment?: { Variables?: Record<string, unknown> } } }).Properties);
    for (const what of ['decides from canary results', 'release ledger of the rings']) {
      const fns = envs.filter((f) => f.Description.includes(what));
      expect(fns.length).toBeGreaterThan(0);
      // The stack's name with the pipeline's: a dev and a prod copy count apart.
      for (const f of fns) expect(f.Environment?.Variables?.PIPELINE_NAME).toBe('Test/cams');
    }
  });

  test('the dashboard graphs every stage\'s duration and every run outcome of this pipeline, approval only when there is one', () => {
    const widgets = (approval: boolean) => {
      const s = setup(() => (approval ? { approval: {} } : {}));
      s.pipeline();
      const body = Object.values(Template.fromStack(s.stack).findResources('AWS::CloudWatch::Dashboard'))[0].Properties.DashboardBody;
      // The body is an Fn::Join of text and tokens; the metric definitions are in the text.
      return JSON.stringify(body);
    };
    const without = widgets(false);
    for (const stage of ['Compile', 'Publish', 'Canary', 'Gate', 'Rollout']) expect(without).toContain(`\\"StageDurationSeconds\\",\\"Pipeline\\",\\"Test/cams\\",\\"Stage\\",\\"${stage}\\"`);
    expect(without).not.toContain('\\"Stage\\",\\"Approval\\"');
    expect(without).not.toContain('APPROVAL_REJECTED');
    for (const outcome of ['RELEASED', 'GATE_FAILED', 'ROLLOUT_REVERTED']) expect(without).toContain(`\\"Outcome\\",\\"${outcome}\\"`);
    const withApproval = widgets(true);
    expect(withApproval).toContain('\\"Stage\\",\\"Approval\\"');
    expect(withApproval).toContain('\\"Outcome\\",\\"APPROVAL_REJECTED\\"');
  });

  test('each class has its own latency alarm at its own threshold, counting only its own devices of this pipeline', () => {
    const s = setup(({ fleet }) => ({
      thresholds: { minAccuracy: 0.9, maxP90Latency: Duration.millis(40) },
      deviceClasses: [
        { name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
          canary: fleet('rasp4b', 'pi-canary2'), rings: [fleet('rasp4b', 'pi-ring2')], datasetPath: '/opt/data/dataset.json', latencyAlarmThreshold: Duration.millis(250) },
        { name: 'jetson-nano', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: [{ name: 'jn', target: CompilationTarget.device(TargetDevice.JETSON_NANO) }],
          canary: fleet('jetson-nano', 'jn-canary'), rings: [fleet('jetson-nano', 'jn-ring1')], datasetPath: '/opt/data/dataset.json' },
      ],
    }));
    s.pipeline();
    const t = Template.fromStack(s.stack);
    const latency = Object.values(t.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DeviceLatencyP90' } })).map((a) => a.Properties);
    expect(latency.map((a) => [a.Dimensions, a.Threshold])).toEqual([
      [[{ Name: 'DeviceClass', Value: 'rasp4b' }, { Name: 'Pipeline', Value: 'Test/cams' }], 250],
      // No threshold of its own: the gate's p90 limit.
      [[{ Name: 'DeviceClass', Value: 'jetson-nano' }, { Name: 'Pipeline', Value: 'Test/cams' }], 40],
    ]);
    // The telemetry rule reads this pipeline's root only and passes the class and thing from the topic.
    t.hasResourceProperties('AWS::IoT::TopicRule', { TopicRulePayload: {
      Sql: "SELECT latencyMs.p90 AS p90, inferences, topic(5) AS deviceClass, topic(6) AS thingName FROM 'edge-model-pipeline/Test/cams/telemetry/+/+' WHERE kind = 'telemetry' AND inferences > 0",
    } });
    t.hasResourceProperties('AWS::IoT::TopicRule', { TopicRulePayload: { Sql: "SELECT *, topic(5) AS topicRunId, topic(6) AS topicThing FROM 'edge-model-pipeline/Test/cams/results/+/+'" } });
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).map((f) => f.Properties).find((f) => String(f.Description).includes('device latency metric'));
    expect(fn.Environment.Variables).toMatchObject({ PIPELINE_NAME: 'Test/cams', DEVICE_CLASSES: 'rasp4b,jetson-nano' });
    // Each class's devices may publish telemetry under their own class only.
    const policies = JSON.stringify(t.findResources('AWS::IoT::Policy'));
    expect(policies).toContain(':topic/edge-model-pipeline/Test/cams/telemetry/rasp4b/rasp4b-*');
    expect(policies).toContain(':topic/edge-model-pipeline/Test/cams/telemetry/jetson-nano/jetson-nano-*');
    expect(policies).not.toContain(':topic/edge-model-pipeline/telemetry/');
  });
});

describe('EdgeModelPipeline and one execution\'s history', () => {
  const warnings = (stack: Stack) => Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('history events in its rollout execution'));

  test('a class whose rings could together write more history than one execution keeps is warned about at synth, with the numbers and the fix', () => {
    const s = setup(({ fleet, store }) => {
      const canary = fleet('rasp4b', 'pi-canary');
      return {
        deviceClasses: [{
          name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
          variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
          canary,
          rings: Array.from({ length: 8 }, (_, r) => fleet('rasp4b', `pi-ring${r}`)),
          datasetPath: '/opt/data/dataset.json',
        }],
        store,
      };
    });
    s.pipeline();
    const found = warnings(s.stack);
    expect(found).toHaveLength(1);
    // 8 rings x (9 events a poll x 360 polls in 6 hours + 41).
    expect(JSON.stringify(found[0].entry.data)).toContain('the 8 rings of rasp4b, each polling until its time budget, can write 26248 history events in its rollout execution');
  });

  test('as many rings spread over classes are not: each class rolls out in an execution of its own', () => {
    const s = setup(({ fleet, store }) => ({
      deviceClasses: Array.from({ length: 4 }, (_, c) => ({
        name: `pi${c}`, platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        canary: fleet(`pi${c}`, `pi${c}-canary`),
        rings: Array.from({ length: 2 }, (_r, r) => fleet(`pi${c}`, `pi${c}-ring${r}`)),
        datasetPath: '/opt/data/dataset.json',
      })),
      store,
    }));
    s.pipeline();
    expect(warnings(s.stack)).toHaveLength(0);
    // The pipeline's state machine and the class-rollout one, whatever the number of classes.
    Template.fromStack(s.stack).resourceCountIs('AWS::StepFunctions::StateMachine', 2);
  });

  test('a class with one ring stays well within it', () => {
    const s = setup();
    s.pipeline();
    expect(warnings(s.stack)).toHaveLength(0);
  });
});

describe('EdgeModelPipeline keeps classes and rings as data', () => {
  /** The state count of the run's and the class rollout's definitions for `classes` classes of `rings` rings. */
  const states = (classes: number, rings: number) => {
    const s = setup(({ fleet, store }) => ({
      deviceClasses: Array.from({ length: classes }, (_, c) => ({
        name: `pi${c}`, platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        canary: fleet(`pi${c}`, `pi${c}-canary`),
        rings: Array.from({ length: rings }, (_r, r) => fleet(`pi${c}`, `pi${c}-ring${r}`)),
        datasetPath: '/opt/data/dataset.json',
      })),
      store,
    }));
    s.pipeline();
    const all = definitionsOf(s.stack);
    const [runId] = Object.keys(rootDefinitionsOf(s.stack));
    const run = all[runId];
    const classRollout = Object.entries(all).find(([id]) => id !== runId)![1];
    return { run: Object.keys(stateTypes(run)).length, classRollout: Object.keys(stateTypes(classRollout)).length };
  };

  test('a class more adds four states to the run (start its rollout, read its outcome) and none to the canary or the class rollout; a ring more adds none', () => {
    const one = states(1, 1);
    expect(states(2, 1)).toEqual({ run: one.run + 4, classRollout: one.classRollout });
    expect(states(1, 3)).toEqual(one);
  });
});

describe('EdgeModelPipeline with its fleets in nested stacks', () => {
  test('synthesizes: the fleets\' resources are in the nested stack, and the class rollout names their groups', () => {
    const stack = new Stack(new App(), 'Parent', { env: { account: '111122223333', region: 'eu-west-1' } });
    const store = new ArtifactStore(stack, 'Store');
    const nested = new NestedStack(stack, 'Fleets');
    const canary = new EdgeFleet(nested, 'PiCanary', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-canary-', store });
    const ring = new EdgeFleet(nested, 'PiRing', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-r1-', store, deviceAccess: canary });
    new EdgeModelPipeline(stack, 'Pipeline', {
      pipelineName: 'cams',
      model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },
      store,
      thresholds: { minAccuracy: 0.9 },
      deviceClasses: [{ name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, canary, rings: [ring], datasetPath: '/opt/data/dataset.json' }],
    });
    const parent = Template.fromStack(stack);
    parent.resourceCountIs('AWS::IoT::ThingGroup', 0);
    parent.resourceCountIs('AWS::CloudFormation::Stack', 1);
    Template.fromStack(nested).resourceCountIs('AWS::IoT::ThingGroup', 2);
    // The class rollout's input names the ring's group (a name known at synth: no cross-stack reference).
    const definitions = JSON.stringify(Object.values(parent.findResources('AWS::StepFunctions::StateMachine')).map((r) => r.Properties.DefinitionString));
    expect(Stack.of(ring).resolve(ring.thingGroupName)).toEqual(expect.any(String));
    expect(definitions).toContain(ring.thingGroupName);
  });
});

describe('EdgeModelPipeline and Regions', () => {
  const inRegion = (region?: string) => {
    const stack = new Stack(new App(), 'Regional', region ? { env: { account: '111122223333', region } } : {});
    const store = new ArtifactStore(stack, 'Store');
    const canary = new EdgeFleet(stack, 'Canary', { deviceClass: 'gw', thingNamePrefix: 'gw-c-', store });
    const ring = new EdgeFleet(stack, 'Ring', { deviceClass: 'gw', thingNamePrefix: 'gw-r-', store, deviceAccess: canary });
    return () => new EdgeModelPipeline(stack, 'Pipeline', {
      pipelineName: 'digits', store, model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },
      thresholds: { minAccuracy: 0.9 },
      deviceClasses: [{ name: 'gw', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, canary, rings: [ring], datasetPath: '/opt/data/dataset.json' }],
    });
  };

  test('a stack for a Region without Greengrass v2 is refused at synth, naming the Region and where to deploy', () => {
    for (const region of ['sa-east-1', 'us-west-1', 'eu-west-3', 'af-south-1']) {
      const found = problems(inRegion(region));
      expect(found).toContain(`env.region: got "${region}". AWS IoT Greengrass v2 is not in this Region`);
      expect(found).toContain('eu-west-1');
    }
  });

  test('a Region with it, or a stack whose Region is decided at deploy time, is not', () => {
    for (const region of ['eu-west-1', 'us-east-1', 'ap-northeast-1', 'cn-north-1', 'us-gov-west-1', undefined]) expect(inRegion(region)).not.toThrow();
  });
});

describe('EdgeModelPipeline for a CI role and an operator', () => {
  test('grantUploadModel lets a CI role upload a model under the pipeline\'s prefix (in parts too) and start a run, and nothing else in the store', async () => {
    const s = setup();
    const pipeline = s.pipeline();
    new iam.Role(s.stack, 'Ci', { assumedBy: new iam.AccountRootPrincipal() });
    pipeline.grantUploadModel(s.stack.node.findChild('Ci') as iam.Role);
    const account = Account.of(Template.fromStack(s.stack).toJSON() as never);
    const ci = account.role('Ci').arn;
    const [bucket] = storeBucketsOf(account);
    const object = (key: string) => `arn:${TEST_ENV.partition}:s3:::${bucket}/${key}`;
    const machine = Object.keys(Template.fromStack(s.stack).findResources('AWS::StepFunctions::StateMachine')).find((id) => id.startsWith('PipelineStateMachine'))!;
    const allowed = async (action: string, resource: string) => (await account.authorize({ principal: ci, action, resource })).allowed;
    expect(await allowed('s3:PutObject', object('models/cams/v7/model.onnx'))).toBe(true);
    expect(await allowed('s3:AbortMultipartUpload', object('models/cams/v7/model.onnx'))).toBe(true);
    expect(await allowed('states:StartExecution', `arn:${TEST_ENV.partition}:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:${machine}`)).toBe(true);
    expect(await allowed('s3:PutObject', object('models/other/v7/model.onnx'))).toBe(false);
    expect(await allowed('s3:PutObject', object('reports/run-1/report.html'))).toBe(false);
    expect(await allowed('s3:GetObject', object('models/cams/v7/model.onnx'))).toBe(false);
  });

  test('the stack outputs what an operator runs it with; the approval function is exposed', () => {
    const s = setup(() => ({ approval: {} }));
    const pipeline = s.pipeline();
    const outputs = Template.fromStack(s.stack).toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    const named = (suffix: string) => Object.entries(outputs).find(([id]) => id.startsWith('Pipeline') && id.includes(suffix))?.[1];
    for (const suffix of ['StateMachineArn', 'StoreBucketName', 'ModelPrefix', 'NotificationTopicArn', 'DashboardName', 'ApprovalFunctionName']) expect(named(suffix)).toBeDefined();
    expect(named('ModelPrefix')!.Value).toBe('models/cams/');
    expect(pipeline.approvalFunction).toBeDefined();
    expect(setup().pipeline().approvalFunction).toBeUndefined();
  });
});

describe('EdgeModelPipeline reports every problem at once', () => {
  test('pipeline, compile and model problems in one error, each under the user\'s own path', () => {
    const message = problems(() => setup(({ fleet }) => ({
      pipelineName: 'Bad_Name',
      model: { framework: Framework.PYTORCH, inputs: [] },
      deviceClasses: [
        { name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
          canary: fleet('rasp4b', 'pi-canary'), rings: [fleet('rasp4b', 'pi-ring1')], datasetPath: '/opt/data/dataset.json' },
        { name: 'jetson', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
          variants: [{ name: 'jetson', target: CompilationTarget.device(TargetDevice.RASP4B), compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }) }],
          canary: fleet('jetson', 'jn-canary'), rings: [fleet('jetson', 'jn-ring1')], datasetPath: '/opt/data/dataset.json' },
      ],
    })).pipeline());
    expect(message).toContain('pipelineName: got "Bad_Name"');
    expect(message).toContain('deviceClasses[1].variants[0].compilerOptions: got');
    expect(message).toMatch(/model\.inputs?\b/);
    // Not the compile stage's own paths.
    expect(message).not.toMatch(/Compile|^\s*variants\[/m);
  });
});
