import { ArnFormat, Duration, Size, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { retryTransient } from '../core/retries';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { VARIANT_NAME_PATTERN } from '../core/naming';
import { ModelDescription } from '../compile/model-source';
import { ReleaseLedger } from '../fleet/release-ledger';
import { ArtifactStore } from './artifact-store';
import { ComponentPlatform, ComponentRecipe, RecipeLifecycle } from './recipe';

/** What the packaged artifacts are. */
export enum ArtifactKind {
  /** Neo output (`.tar.gz` with a `.so`, `.params` and graph `.json`), run by DLR. */
  NEO_COMPILED = 'NEO_COMPILED',
  /** An uncompiled ONNX model, run by ONNX Runtime (the "no compilation" variant). */
  ONNX = 'ONNX',
}

/** Error names the publishing fragment ends with. */
export enum ComponentPublishingError {
  /** The artifact was corrupt (not a readable archive or model). */
  ARTIFACT_CORRUPT = 'ArtifactCorrupt',
  /** The archive had `..`, absolute paths or links. */
  ARTIFACT_UNSAFE = 'ArtifactUnsafe',
  /** The artifact was not a compiled model (Neo's silent fallback to the framework model, among others). */
  ARTIFACT_NOT_COMPILED = 'ArtifactNotCompiled',
  /** The artifact was over `maxArtifactSize`. */
  ARTIFACT_TOO_LARGE = 'ArtifactTooLarge',
  /** Greengrass set the component version FAILED; the cause is its message. */
  COMPONENT_FAILED = 'ComponentPublishFailed',
  /** The component version was not DEPLOYABLE within the time budget. */
  COMPONENT_TIMED_OUT = 'ComponentPublishTimedOut',
}

/**
 * The model component of one device class.
 *
 * Every device class gets a component of its own, `{componentNamePrefix}.{name}`,
 * even when two classes share an OS and architecture (a Jetson and a
 * Raspberry Pi are both linux/aarch64): the component name, not the
 * platform, keeps the Jetson build off the Pi, and each class is rolled out
 * and reverted on its own. Each variant that serves the class becomes a
 * version of that component.
 */
export interface DeviceClassComponent {
  /** The device class: lower-case letters, digits and dashes, such as `jetson-nano`. */
  readonly name: string;
  /** The platform of the class's devices. */
  readonly platform: ComponentPlatform;
  /** The compiled variants that can serve the class (variant names of the compile stage). */
  readonly variants: string[];
  /**
   * Lifecycle steps of the model component.
   *
   * @default - an Install step that checks the unpacked package's manifest.json is there
   */
  readonly lifecycle?: RecipeLifecycle;
}

/** Props for {@link ComponentPublishing}. */
export interface ComponentPublishingProps {
  /** Where packages are stored (`packages/`). */
  readonly store: ArtifactStore;
  /** Hands out component versions and records what was published. */
  readonly ledger: ReleaseLedger;
  /** The prefix of every component name, such as `com.example.digits`; never `aws.greengrass`. */
  readonly componentNamePrefix: string;
  /** The device classes and the variants that serve each. */
  readonly deviceClasses: DeviceClassComponent[];
  /**
   * `major.minor` of the component versions; the ledger hands out the patch number.
   *
   * @default '1.0'
   */
  readonly baseVersion?: string;
  /**
   * What the artifacts are.
   *
   * @default ArtifactKind.NEO_COMPILED
   */
  readonly artifactKind?: ArtifactKind;
  /**
   * The model's framework and inputs, written into each package's manifest.json.
   *
   * @default - none recorded
   */
  readonly model?: ModelDescription;
  /**
   * The largest artifact accepted, compressed or unpacked: 1 MiB to 4 GiB.
   * The packaging function gets twice this plus 512 MiB of ephemeral storage.
   *
   * @default Size.gibibytes(2)
   */
  readonly maxArtifactSize?: Size;
  /**
   * Time between two checks of a new component version: 5 seconds to 5 minutes.
   *
   * @default Duration.seconds(10)
   */
  readonly pollInterval?: Duration;
  /**
   * How long a component version may take to become DEPLOYABLE: 1 minute to 2 hours.
   *
   * @default Duration.minutes(10)
   */
  readonly timeBudget?: Duration;
}

const COMPONENT_PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
const CLASS_NAME_PATTERN = /^[a-z0-9](-?[a-z0-9]){0,39}$/;

/**
 * Packages compiled artifacts and publishes them as Greengrass v2 component
 * versions, one component per device class, as a Step Functions fragment.
 *
 * **Input**: `{ "runId": …, "compile": { "compiled": [{ variant, target, artifactS3Uri, … }] } }`
 * (the output of {@link NeoCompilation}).
 *
 * **Output**: the input with `publish` set to
 * `{ "classes": [{ "deviceClass", "candidates": [{ deviceClass, variant, componentName,
 * componentVersion, componentArn, packageS3Uri, sha256, deadline }] }] }`: every
 * candidate is DEPLOYABLE.
 *
 * **Errors**: see {@link ComponentPublishingError}.
 *
 * Per (class, variant): the variant's artifact is repacked as a
 * deterministic ZIP with a manifest.json and stored content-addressed (an
 * unchanged artifact is never uploaded twice); the ledger hands out the
 * version; `CreateComponentVersion` runs with a client token; the fragment
 * polls `DescribeComponent` until DEPLOYABLE.
 */
export class ComponentPublishing extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** The component name of each device class. */
  public readonly componentNames: { [deviceClass: string]: string };

  constructor(scope: Construct, id: string, props: ComponentPublishingProps) {
    super(scope, id);
    const baseVersion = props.baseVersion ?? '1.0';
    const maxBytes = props.maxArtifactSize?.toBytes() ?? 2 * 1024 ** 3;
    const pollSeconds = props.pollInterval?.toSeconds() ?? 10;
    const budgetSeconds = props.timeBudget?.toSeconds() ?? 600;
    const classes = validate(this, props, baseVersion, maxBytes, pollSeconds, budgetSeconds);
    this.componentNames = Object.fromEntries(classes.map((c) => [c.name, c.componentName]));
    const stack = Stack.of(this);

    const packager = new BundledHandler(this, 'Packager', {
      handlerName: 'package-artifact',
      description: 'cdk-edge-model-pipeline: repacks a compiled model as a deterministic Greengrass ZIP with a manifest',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      ephemeralStorageMiB: Math.min(10240, Math.ceil((2 * maxBytes) / 1024 ** 2) + 512),
      environment: {
        STORE_BUCKET: props.store.bucket.bucketName,
        PACKAGE_PREFIX: ArtifactStore.PACKAGE_PREFIX,
        MAX_ARTIFACT_BYTES: String(maxBytes),
        WORK_DIR: '/tmp/package',
      },
    });
    props.store.grantRead(packager.role, ArtifactStore.COMPILED_PREFIX);
    props.store.grantRead(packager.role, ArtifactStore.MODEL_PREFIX);
    // A package is content-addressed: listing tells whether it is stored already.
    props.store.grantList(packager.role, ArtifactStore.PACKAGE_PREFIX);
    props.store.grantWrite(packager.role, ArtifactStore.PACKAGE_PREFIX);

    const publisher = new BundledHandler(this, 'Publisher', {
      handlerName: 'publish-component',
      description: 'cdk-edge-model-pipeline: publishes a package as a Greengrass component version numbered by the release ledger',
      timeout: Duration.minutes(1),
      memorySize: 256,
      environment: { LEDGER_TABLE: props.ledger.table.tableName },
    });
    props.ledger.grantWrite(publisher.role);
    // Greengrass reads the artifact with the caller's permissions to record its digest.
    props.store.grantObjectsRead(publisher.role, ArtifactStore.PACKAGE_PREFIX);
    const componentArns = [
      stack.formatArn({ service: 'greengrass', resource: 'components', resourceName: `${props.componentNamePrefix}.*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      stack.formatArn({ service: 'greengrass', resource: 'components', resourceName: `${props.componentNamePrefix}.*:versions:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ];
    publisher.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['greengrass:CreateComponentVersion'],
      resources: componentArns,
    }));
    acknowledge(publisher.role, 'COMPONENT_NAME_PREFIX', componentArns.map((arn) => nagResource(publisher.role, arn)));

    const plan = new sfn.Pass(this, 'PublishPlan', {
      stateName: 'PublishPlan',
      comment: 'The device classes, their components and the variants that serve each',
      result: sfn.Result.fromObject({ classes: classes.map((c) => ({ ...c })) }),
      resultPath: '$.publish',
    });

    const serves = new sfn.Pass(this, 'CheckVariantServesClass', {
      stateName: 'CheckVariantServesClass',
      parameters: { 'serves.$': 'States.ArrayContains($.class.variants, $.artifact.variant)' },
      resultPath: '$.check',
    });
    const skip = new sfn.Pass(this, 'SkipVariant', {
      stateName: 'SkipVariant',
      parameters: { 'skipped': true, 'deviceClass.$': '$.class.name', 'variant.$': '$.artifact.variant' },
    });
    const pack = packager.invoke(this, 'PackageArtifact', {
      payload: {
        'runId.$': '$.runId',
        'variant.$': '$.artifact.variant',
        'target.$': '$.artifact.target',
        'artifactS3Uri.$': '$.artifact.artifactS3Uri',
        'kind': props.artifactKind ?? ArtifactKind.NEO_COMPILED,
        ...(props.model ? {
          framework: props.model.framework,
          inputShapes: Object.fromEntries((props.model.inputs ?? []).map((input, i) => [input.name ?? `input${i}`, input.dimsFor(props.model!.framework)])),
        } : {}),
      },
      resultPath: '$.package',
    });
    const publish = publisher.invoke(this, 'PublishComponent', {
      payload: {
        'runId.$': '$.runId',
        'deviceClass.$': '$.class.name',
        'componentName.$': '$.class.componentName',
        'baseVersion': baseVersion,
        'recipe.$': '$.class.recipe',
        'budgetSeconds': budgetSeconds,
        'package.$': '$.package',
      },
      resultPath: '$.published',
    });
    publish.addRetry({
      errors: ['ThrottlingException', 'InternalServerException', 'RequestAlreadyInProgressException'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.minutes(1),
      jitterStrategy: sfn.JitterType.FULL,
    });
    const wait = new sfn.Wait(this, 'WaitForComponent', { stateName: 'WaitForComponent', time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)) });
    const describe = new tasks.CallAwsService(this, 'DescribeComponent', {
      stateName: 'DescribeComponent',
      service: 'greengrassv2',
      action: 'describeComponent',
      iamAction: 'greengrass:DescribeComponent',
      iamResources: [componentArns[1]],
      parameters: { 'Arn.$': '$.published.componentArn' },
      resultSelector: { 'Component.$': '$', 'CheckedAt.$': '$$.State.EnteredTime' },
      resultPath: '$.describe',
    });
    retryTransient(describe, 'greengrassv2:DescribeComponent', { maxAttempts: 6 });
    // A version may not be visible the instant it is created.
    describe.addRetry({ errors: ['GreengrassV2.ResourceNotFoundException'], interval: Duration.seconds(5), backoffRate: 1.5, maxAttempts: 4 });
    const deployable = new sfn.Pass(this, 'ComponentDeployable', { stateName: 'ComponentDeployable', outputPath: '$.published' });
    const failed = new sfn.Fail(this, 'ComponentFailed', {
      stateName: 'ComponentFailed',
      error: ComponentPublishingError.COMPONENT_FAILED,
      causePath: '$.describe.Component.Status.Message',
    });
    const timedOut = new sfn.Fail(this, 'ComponentTimedOut', {
      stateName: 'ComponentTimedOut',
      error: ComponentPublishingError.COMPONENT_TIMED_OUT,
      cause: `The component version was not DEPLOYABLE within ${budgetSeconds} seconds.`,
    });

    serves.next(new sfn.Choice(this, 'VariantServesClass', { stateName: 'VariantServesClass' })
      .when(sfn.Condition.booleanEquals('$.check.serves', true), pack)
      .otherwise(skip));
    pack.next(publish);
    publish.next(wait);
    wait.next(describe);
    describe.next(new sfn.Choice(this, 'CheckComponentState', { stateName: 'CheckComponentState' })
      .when(sfn.Condition.stringEquals('$.describe.Component.Status.ComponentState', 'DEPLOYABLE'), deployable)
      .when(sfn.Condition.stringEquals('$.describe.Component.Status.ComponentState', 'FAILED'), failed)
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath('$.describe.CheckedAt', '$.published.deadline'), timedOut)
      .otherwise(wait));

    const perVariant = new sfn.Map(this, 'PublishVariants', {
      stateName: 'PublishVariants',
      itemsPath: '$.compiled',
      itemSelector: { 'class.$': '$.class', 'runId.$': '$.runId', 'artifact.$': '$$.Map.Item.Value' },
      resultSelector: { 'deviceClass.$': '$[0].deviceClass', 'candidates.$': '$[?(@.componentArn)]' },
    });
    // Every item, published or skipped, carries its class name, so the class survives the filter.
    perVariant.itemProcessor(serves);
    const perClass = new sfn.Map(this, 'PublishClasses', {
      stateName: 'PublishClasses',
      comment: 'One component per device class; each variant that serves the class becomes a version',
      itemsPath: '$.publish.classes',
      itemSelector: { 'class.$': '$$.Map.Item.Value', 'runId.$': '$.runId', 'compiled.$': '$.compile.compiled' },
      resultPath: '$.publish.classes',
    });
    perClass.itemProcessor(perVariant);

    const stackScope = Stack.of(this);
    acknowledge(stackScope, 'LAMBDA_INVOKE_VERSIONS', [
      nagResource(this, `${packager.function.functionArn}:*`),
      nagResource(this, `${publisher.function.functionArn}:*`),
    ]);
    acknowledge(stackScope, 'COMPONENT_NAME_PREFIX', [nagResource(this, componentArns[1])]);

    plan.next(perClass);
    this.startState = plan;
    this.endStates = [perClass];
  }
}

/** A device class after validation, as the state machine carries it. */
interface ResolvedClass {
  readonly name: string;
  readonly componentName: string;
  readonly variants: string[];
  readonly recipe: { [key: string]: unknown };
}

function validate(
  scope: Construct,
  props: ComponentPublishingProps,
  baseVersion: string,
  maxBytes: number,
  pollSeconds: number,
  budgetSeconds: number,
): ResolvedClass[] {
  const problems = new ProblemCollector();
  const prefix = props.componentNamePrefix;
  if (!isUnresolved(prefix)) {
    if (/^aws\.greengrass/i.test(prefix)) problems.add('componentNamePrefix', prefix, 'The aws.greengrass prefix is reserved for AWS components: use your own, such as com.example.models.');
    else if (!COMPONENT_PREFIX_PATTERN.test(prefix) || prefix.endsWith('.')) problems.add('componentNamePrefix', prefix, 'Use 1-80 letters, digits, ".", "_" and "-", not ending with ".".');
  }
  if (!/^(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(baseVersion)) problems.add('baseVersion', baseVersion, 'Give major.minor, such as "1.0"; the ledger adds the patch number.');
  checkIntegerRange(problems, 'maxArtifactSize', maxBytes / 1024 ** 2, 1, 4096, 'MiB');
  checkIntegerRange(problems, 'pollInterval', pollSeconds, 5, 300, 'seconds');
  checkIntegerRange(problems, 'timeBudget', budgetSeconds, 60, 7200, 'seconds');
  if (props.deviceClasses.length === 0) problems.add('deviceClasses', [], 'Give at least one device class, such as { name: "jetson-nano", platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: ["jetson-nano"] }.');
  const seen = new Map<string, number>();
  const resolved: ResolvedClass[] = [];
  props.deviceClasses.forEach((c, i) => {
    const prop = `deviceClasses[${i}]`;
    if (!CLASS_NAME_PATTERN.test(c.name)) problems.add(`${prop}.name`, c.name, 'Use 1-40 lower-case letters, digits and single dashes.');
    if (seen.has(c.name)) problems.add(`${prop}.name`, c.name, `deviceClasses[${seen.get(c.name)}] has the same name: each class once.`);
    seen.set(c.name, i);
    if (c.variants.length === 0) problems.add(`${prop}.variants`, [], 'Name at least one compiled variant that serves the class.');
    for (const v of c.variants) if (!VARIANT_NAME_PATTERN.test(v)) problems.add(`${prop}.variants`, v, 'Variant names are lower-case letters, digits and single dashes, as the compile stage names them.');
    const componentName = `${prefix}.${c.name}`;
    const recipeProps = {
      componentName,
      componentVersion: '0.0.0',
      description: `Model for ${c.name} devices, published by cdk-edge-model-pipeline`,
      manifests: [{ platform: c.platform, lifecycle: c.lifecycle ?? {} }],
    };
    problems.addAll(prop, ComponentRecipe._problems(recipeProps).filter((p) => p.prop !== 'componentName' || !isUnresolved(prefix)));
    resolved.push({ name: c.name, componentName, variants: [...c.variants], recipe: {} });
  });
  problems.throwIfAny(scope);
  return resolved.map((r, i) => {
    const c = props.deviceClasses[i];
    const recipe = new ComponentRecipe({
      componentName: r.componentName,
      componentVersion: '0.0.0',
      description: `Model for ${c.name} devices, published by cdk-edge-model-pipeline`,
      manifests: [{ platform: c.platform, lifecycle: c.lifecycle ?? {} }],
    }).render();
    delete recipe.ComponentVersion;
    return { ...r, recipe };
  });
}
