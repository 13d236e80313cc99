import { isUnresolved, ProblemCollector, PropProblem } from '../core/errors';

/** The operating system of a Greengrass platform. */
export enum ComponentOs {
  /** Linux. */
  LINUX = 'linux',
  /** Windows. */
  WINDOWS = 'windows',
  /** macOS. */
  DARWIN = 'darwin',
}

/** The architecture of a Greengrass platform, as the nucleus names it (`aarch64`, not `arm64`). */
export enum ComponentArchitecture {
  /** 64-bit x86. */
  AMD64 = 'amd64',
  /** 64-bit ARM (Jetson, Raspberry Pi 4 with a 64-bit OS). */
  AARCH64 = 'aarch64',
  /** 32-bit ARM (Raspberry Pi OS 32-bit). */
  ARM = 'arm',
  /** 32-bit x86. */
  X86 = 'x86',
}

/** How a component depends on another. */
export enum DependencyType {
  /** Restart this component when the dependency changes state. */
  HARD = 'HARD',
  /** Do not restart this component when the dependency changes state. */
  SOFT = 'SOFT',
}

/** Whether the nucleus unpacks an artifact. */
export enum ArtifactUnarchive {
  /** Keep the file as it is. */
  NONE = 'NONE',
  /** Unpack a ZIP into `{artifacts:decompressedPath}/<file name without .zip>/`. */
  ZIP = 'ZIP',
}

/** Who may read or execute an artifact on the device. */
export enum ArtifactPermission {
  /** Nobody but the nucleus. */
  NONE = 'NONE',
  /** The component's user. */
  OWNER = 'OWNER',
  /** Every user. */
  ALL = 'ALL',
}

/** A platform a manifest applies to. */
export interface ComponentPlatform {
  /** The operating system. */
  readonly os: ComponentOs;
  /**
   * The architecture.
   *
   * @default - any architecture
   */
  readonly architecture?: ComponentArchitecture;
}

/** One artifact of a manifest. */
export interface RecipeArtifact {
  /** `s3://bucket/key`; the file name on the device is the last segment. */
  readonly uri: string;
  /**
   * Whether the nucleus unpacks it.
   *
   * @default ArtifactUnarchive.NONE
   */
  readonly unarchive?: ArtifactUnarchive;
  /**
   * Read permission.
   *
   * @default ArtifactPermission.OWNER
   */
  readonly read?: ArtifactPermission;
  /**
   * Execute permission.
   *
   * @default ArtifactPermission.NONE
   */
  readonly execute?: ArtifactPermission;
}

/** The lifecycle scripts of a manifest. */
export interface RecipeLifecycle {
  /**
   * Runs at every start of the component, before Run or Startup.
   *
   * @default - none
   */
  readonly install?: string;
  /**
   * The long-running process. Exclusive with `startup`.
   *
   * @default - none
   */
  readonly run?: string;
  /**
   * A background process that reports RUNNING itself; the deployment waits
   * for it. Exclusive with `run`.
   *
   * @default - none
   */
  readonly startup?: string;
  /**
   * Runs when the component stops.
   *
   * @default - none
   */
  readonly shutdown?: string;
  /**
   * Runs when the component errors.
   *
   * @default - none
   */
  readonly recover?: string;
  /**
   * Environment variables of every lifecycle step.
   *
   * @default - none
   */
  readonly environment?: { [name: string]: string };
  /**
   * Run the steps as root.
   *
   * @default false
   */
  readonly requiresPrivilege?: boolean;
}

/** One platform-specific part of a recipe. */
export interface RecipeManifest {
  /** Where it applies; the first matching manifest wins. */
  readonly platform: ComponentPlatform;
  /** What runs. */
  readonly lifecycle: RecipeLifecycle;
  /**
   * Files the nucleus downloads.
   *
   * @default - none
   */
  readonly artifacts?: RecipeArtifact[];
}

/** A dependency of a component. */
export interface ComponentDependency {
  /** The component it depends on. */
  readonly componentName: string;
  /** An npm-style semver range, such as `>=2.0.0 <3.0.0`. */
  readonly versionRequirement: string;
  /**
   * HARD restarts this component when the dependency changes state.
   *
   * @default DependencyType.HARD
   */
  readonly dependencyType?: DependencyType;
}

/** Lets a component use one IPC operation on some resources. */
export interface IpcAccessControl {
  /** The IPC service, such as `aws.greengrass.ipc.mqttproxy`. */
  readonly ipcService: string;
  /** A name for the policy, unique in the component. */
  readonly policyId: string;
  /** The operations, such as `aws.greengrass#PublishToIoTCore`. */
  readonly operations: string[];
  /** The resources (topics), such as `edge/results/+`. */
  readonly resources: string[];
  /**
   * What the policy is for.
   *
   * @default - none
   */
  readonly description?: string;
}

/** Props for {@link ComponentRecipe}. */
export interface ComponentRecipeProps {
  /** The component name, such as `com.example.digits.jetson-nano`; never `aws.greengrass…`. */
  readonly componentName: string;
  /** Semantic version `major.minor.patch`. */
  readonly componentVersion: string;
  /**
   * What the component does.
   *
   * @default - none
   */
  readonly description?: string;
  /**
   * Who publishes it.
   *
   * @default 'cdk-edge-model-pipeline'
   */
  readonly publisher?: string;
  /** One manifest per platform. */
  readonly manifests: RecipeManifest[];
  /**
   * Other components it needs.
   *
   * @default - none
   */
  readonly dependencies?: ComponentDependency[];
  /**
   * Default configuration; values are strings, as the nucleus reads them.
   *
   * @default - none
   */
  readonly defaultConfiguration?: { [key: string]: string };
  /**
   * IPC permissions, written under `accessControl` in the default configuration.
   *
   * @default - none
   */
  readonly accessControl?: IpcAccessControl[];
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/**
 * A Greengrass v2 component recipe (RecipeFormatVersion 2020-01-25), built
 * from typed props and validated when it is made.
 */
export class ComponentRecipe {
  /** The recipe format this builder writes. */
  public static readonly FORMAT_VERSION = '2020-01-25';

  /**
   * The problems with `props`, or [] when the recipe is valid.
   * @internal
   */
  public static _problems(props: ComponentRecipeProps): PropProblem[] {
    const problems = new ProblemCollector();
    const name = props.componentName;
    if (!isUnresolved(name)) {
      if (/^aws\.greengrass/i.test(name)) problems.add('componentName', name, 'The aws.greengrass prefix is reserved for AWS components: use your own reverse-domain prefix.');
      else if (!NAME_PATTERN.test(name)) problems.add('componentName', name, 'Use 1-128 letters, digits, ".", "_" and "-", starting with a letter or digit.');
    }
    if (!isUnresolved(props.componentVersion) && !SEMVER.test(props.componentVersion)) {
      problems.add('componentVersion', props.componentVersion, 'Greengrass needs a semantic version major.minor.patch, such as 1.0.0.');
    }
    if (props.manifests.length === 0) problems.add('manifests', [], 'Give at least one manifest: with none, no device matches and the deployment fails.');
    props.manifests.forEach((m, i) => {
      const prop = `manifests[${i}]`;
      const l = m.lifecycle;
      if (l.run !== undefined && l.startup !== undefined) problems.add(`${prop}.lifecycle`, { run: l.run, startup: l.startup }, 'Run and Startup are exclusive: keep one.');
      const files = new Map<string, number>();
      (m.artifacts ?? []).forEach((a, j) => {
        if (isUnresolved(a.uri)) return;
        if (!/^s3:\/\/[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\/.+/.test(a.uri)) {
          problems.add(`${prop}.artifacts[${j}].uri`, a.uri, 'Give an s3:// URI in a bucket without dots (Greengrass downloads artifacts from S3 in the same Region).');
          return;
        }
        const file = a.uri.slice(a.uri.lastIndexOf('/') + 1);
        if (files.has(file)) problems.add(`${prop}.artifacts[${j}].uri`, a.uri, `artifacts[${files.get(file)}] has the same file name "${file}": the device keeps one file per name, so give each artifact its own.`);
        files.set(file, j);
        if (a.unarchive === ArtifactUnarchive.ZIP && !file.toLowerCase().endsWith('.zip')) {
          problems.add(`${prop}.artifacts[${j}].unarchive`, a.uri, 'Greengrass unpacks ZIP only: name a .zip, or use ArtifactUnarchive.NONE.');
        }
      });
    });
    for (let i = 1; i < props.manifests.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = props.manifests[j].platform;
        const b = props.manifests[i].platform;
        if (a.os === b.os && (a.architecture === b.architecture || a.architecture === undefined)) {
          problems.add(`manifests[${i}].platform`, b, `manifests[${j}] already matches this platform and the first match wins: this manifest would never be used.`);
        }
      }
    }
    const deps = new Set<string>();
    for (const [i, d] of (props.dependencies ?? []).entries()) {
      if (deps.has(d.componentName)) problems.add(`dependencies[${i}]`, d.componentName, 'Each dependency once.');
      deps.add(d.componentName);
      if (!isUnresolved(d.versionRequirement) && !/^[\d\s.<>=^~*xX|-]+$/.test(d.versionRequirement)) {
        problems.add(`dependencies[${i}].versionRequirement`, d.versionRequirement, 'Use an npm-style range such as ">=2.0.0 <3.0.0" or "^1.2.0".');
      }
    }
    const policies = new Set<string>();
    for (const [i, acl] of (props.accessControl ?? []).entries()) {
      if (policies.has(acl.policyId)) problems.add(`accessControl[${i}].policyId`, acl.policyId, 'Policy ids are unique within a component.');
      policies.add(acl.policyId);
      if (acl.operations.length === 0 || acl.resources.length === 0) problems.add(`accessControl[${i}]`, acl, 'Give at least one operation and one resource.');
      if (acl.resources.includes('*')) problems.add(`accessControl[${i}].resources`, acl.resources, 'Name the topics; "*" would let the component use every topic.');
    }
    return problems.all;
  }

  private readonly props: ComponentRecipeProps;

  constructor(props: ComponentRecipeProps) {
    const problems = ComponentRecipe._problems(props);
    if (problems.length > 0) {
      throw new Error(`Invalid component recipe ${props.componentName}@${props.componentVersion}:\n${problems.map((p) => `  - ${p.prop}: got ${p.value}. ${p.fix}`).join('\n')}`);
    }
    this.props = props;
  }

  /** The component name. */
  public get componentName(): string {
    return this.props.componentName;
  }

  /** The recipe as the JSON object Greengrass reads. */
  public render(): { [key: string]: unknown } {
    const p = this.props;
    const configuration: { [key: string]: unknown } = { ...(p.defaultConfiguration ?? {}) };
    if (p.accessControl && p.accessControl.length > 0) {
      const byService: { [service: string]: { [policy: string]: unknown } } = {};
      for (const acl of p.accessControl) {
        byService[acl.ipcService] = {
          ...(byService[acl.ipcService] ?? {}),
          [acl.policyId]: { policyDescription: acl.description, operations: acl.operations, resources: acl.resources },
        };
      }
      configuration.accessControl = byService;
    }
    return prune({
      RecipeFormatVersion: ComponentRecipe.FORMAT_VERSION,
      ComponentName: p.componentName,
      ComponentVersion: p.componentVersion,
      ComponentDescription: p.description,
      ComponentPublisher: p.publisher ?? 'cdk-edge-model-pipeline',
      ComponentConfiguration: Object.keys(configuration).length ? { DefaultConfiguration: configuration } : undefined,
      ComponentDependencies: p.dependencies?.length
        ? Object.fromEntries(p.dependencies.map((d) => [d.componentName, { VersionRequirement: d.versionRequirement, DependencyType: d.dependencyType ?? DependencyType.HARD }]))
        : undefined,
      Manifests: p.manifests.map((m) => ({
        Platform: { os: m.platform.os, architecture: m.platform.architecture },
        Lifecycle: {
          Setenv: m.lifecycle.environment,
          Install: m.lifecycle.install !== undefined ? { Script: m.lifecycle.install, RequiresPrivilege: m.lifecycle.requiresPrivilege } : undefined,
          Run: m.lifecycle.run !== undefined ? { Script: m.lifecycle.run, RequiresPrivilege: m.lifecycle.requiresPrivilege } : undefined,
          Startup: m.lifecycle.startup !== undefined ? { Script: m.lifecycle.startup, RequiresPrivilege: m.lifecycle.requiresPrivilege } : undefined,
          Shutdown: m.lifecycle.shutdown !== undefined ? { Script: m.lifecycle.shutdown, RequiresPrivilege: m.lifecycle.requiresPrivilege } : undefined,
          Recover: m.lifecycle.recover !== undefined ? { Script: m.lifecycle.recover, RequiresPrivilege: m.lifecycle.requiresPrivilege } : undefined,
        },
        Artifacts: m.artifacts?.map((a) => ({
          URI: a.uri,
          Unarchive: a.unarchive ?? ArtifactUnarchive.NONE,
          Permission: { Read: a.read ?? ArtifactPermission.OWNER, Execute: a.execute ?? ArtifactPermission.NONE },
        })),
      })),
    });
  }

  /** The recipe as JSON text, as `CreateComponentVersion` takes it. */
  public toJson(): string {
    return JSON.stringify(this.render());
  }
}

/** Drops undefined members and empty objects, so the recipe holds only what was given. */
function prune<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 ? undefined : v))) as T;
}
