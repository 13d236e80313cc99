import { ArnFormat, CfnOutput, Duration, Lazy, Names, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { AgentTopics } from '../core/topics';
import { ArtifactStore } from '../package/artifact-store';

/** Props for {@link EdgeFleet}. */
export interface EdgeFleetProps {
  /** The device class of the fleet, such as `jetson-nano`: lower-case letters, digits and dashes. */
  readonly deviceClass: string;
  /**
   * The thing names of the fleet's core devices start with this, such as
   * `cam-jetson-`. Greengrass core devices do not support thing policy
   * variables, so the IoT policy is scoped by this prefix.
   */
  readonly thingNamePrefix: string;
  /** The store whose `packages/` the devices download artifacts from. */
  readonly store: ArtifactStore;
  /**
   * The thing group of the fleet: a new one with this name, or an existing
   * one when `importThingGroup` is true.
   *
   * @default - a new group with a name unique to this fleet in its stack (the stack's name and
   * the construct's path, with a hash: `{stackName}-{path}-{hash}`, at most 48 characters so
   * state names built from it stay within Step Functions' 80), so two fleets, two pipelines or a
   * dev and a prod copy of a stack never take the same group
   */
  readonly thingGroupName?: string;
  /**
   * Use an existing thing group named `thingGroupName` instead of creating it.
   *
   * @default false
   */
  readonly importThingGroup?: boolean;
  /**
   * The role alias devices assume the token exchange role through.
   *
   * @default - `{thingGroupName}-token-exchange`
   */
  readonly roleAliasName?: string;
  /**
   * How long the credentials devices get are valid: 15 minutes to 12 hours.
   *
   * @default Duration.hours(1)
   */
  readonly credentialDuration?: Duration;
  /**
   * Another fleet of the same class whose token exchange role, role alias and IoT policy this
   * fleet's devices use: a class's rings are the same kind of device as its canary, so they need
   * a thing group of their own, not a role, alias and policy each. That fleet's policy then
   * admits this fleet's thing-name prefix too (devices of fleets that share access can act under
   * each other's prefixes: share only among fleets whose devices you trust alike).
   *
   * @default - the fleet has its own role, role alias and IoT policy
   */
  readonly deviceAccess?: EdgeFleet;
}

const NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * One device class's fleet: its thing group (created or imported), the token
 * exchange role the devices use (S3 reads of the store's `packages/` only,
 * logs only under `/aws/greengrass/`), the role alias, and the core-device
 * IoT policy scoped by thing-name prefix.
 *
 * Its outputs are what a device installer needs: the thing group, the IoT
 * policy and the role alias (see the README for the installer flags).
 */
export class EdgeFleet extends Construct {
  /** The device class. */
  public readonly deviceClass: string;
  /** The thing group's name. */
  public readonly thingGroupName: string;
  /** The thing group's ARN. */
  public readonly thingGroupArn: string;
  /** The prefix of the fleet's thing names. */
  public readonly thingNamePrefix: string;
  /** The token exchange role. */
  public readonly tokenExchangeRole: iam.Role;
  /** The role alias name. */
  public readonly roleAliasName: string;
  /** The IoT policy name. */
  public readonly iotPolicyName: string;

  constructor(scope: Construct, id: string, props: EdgeFleetProps) {
    super(scope, id);
    const problems = new ProblemCollector();
    if (!/^[a-z0-9](-?[a-z0-9]){0,39}$/.test(props.deviceClass)) problems.add('deviceClass', props.deviceClass, 'Use 1-40 lower-case letters, digits and single dashes.');
    if (!isUnresolved(props.thingNamePrefix) && !/^[a-zA-Z0-9:_-]{1,100}$/.test(props.thingNamePrefix)) {
      problems.add('thingNamePrefix', props.thingNamePrefix, 'Use 1-100 of the characters thing names allow (letters, digits, ":", "_", "-"); the IoT policy is scoped by it.');
    }
    const groupName = props.thingGroupName ?? Names.uniqueResourceName(this, { maxLength: 48, separator: '-', allowedSpecialCharacters: '-_' });
    if (!isUnresolved(groupName) && !NAME.test(groupName)) problems.add('thingGroupName', groupName, 'Use 1-128 letters, digits, ":", "_" and "-".');
    if (props.importThingGroup && !props.thingGroupName) problems.add('importThingGroup', true, 'Name the existing group in thingGroupName.');
    // Per thing group: a class's canary and its rings each have their own.
    const aliasName = props.roleAliasName ?? `${groupName.replace(/:/g, '-')}-token-exchange`.slice(0, 128);
    if (!isUnresolved(aliasName) && !/^[\w=,@-]{1,128}$/.test(aliasName)) problems.add('roleAliasName', aliasName, 'Use 1-128 letters, digits and "=,@-_".');
    const seconds = props.credentialDuration?.toSeconds() ?? 3600;
    checkIntegerRange(problems, 'credentialDuration', seconds, 900, 43200, 'seconds');
    const owner = props.deviceAccess;
    if (owner) this.checkDeviceAccess(problems, owner, props);
    problems.throwIfAny(this);

    const stack = Stack.of(this);
    this.deviceClass = props.deviceClass;
    this.thingNamePrefix = props.thingNamePrefix;
    this.thingGroupName = groupName;
    this.roleAliasName = aliasName;
    this.thingGroupArn = stack.formatArn({ service: 'iot', resource: 'thinggroup', resourceName: groupName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    if (!props.importThingGroup) {
      new iot.CfnThingGroup(this, 'ThingGroup', {
        thingGroupName: groupName,
        thingGroupProperties: { thingGroupDescription: `Greengrass core devices of class ${props.deviceClass} (cdk-edge-model-pipeline)` },
      });
    }

    new CfnOutput(this, 'ThingGroupName', { value: groupName, description: `Thing group of the ${props.deviceClass} fleet (--thing-group-name)` });
    if (owner) {
      // The owner's role, role alias and policy; its policy admits this fleet's prefix.
      this.tokenExchangeRole = owner.tokenExchangeRole;
      this.roleAliasName = owner.roleAliasName;
      this.iotPolicyName = owner.iotPolicyName;
      owner.accessMembers.push(this);
      return;
    }
    this.tokenExchangeRole = this.createTokenExchangeRole(props);
    const roleAlias = new iot.CfnRoleAlias(this, 'RoleAlias', {
      roleAlias: aliasName,
      roleArn: this.tokenExchangeRole.roleArn,
      credentialDurationSeconds: seconds,
    });
    const policy = new iot.CfnPolicy(this, 'CoreDevicePolicy', {
      policyDocument: Lazy.any({ produce: () => this.corePolicy(roleAlias.attrRoleAliasArn) }),
    });
    this.iotPolicyName = policy.ref;
    new CfnOutput(this, 'IotPolicyName', { value: policy.ref, description: `IoT policy of ${props.deviceClass} core devices (--thing-policy-name)` });
    new CfnOutput(this, 'RoleAliasName', { value: aliasName, description: `Role alias of the token exchange role (--tes-role-alias-name)` });
    new CfnOutput(this, 'TokenExchangeRoleName', { value: this.tokenExchangeRole.roleName, description: `Token exchange role (--tes-role-name)` });
  }

  /** The fleets whose devices use this fleet's role, role alias and policy: this one, then those that share it. */
  private readonly accessMembers: EdgeFleet[] = [this];
  private accessOwner?: EdgeFleet;

  private checkDeviceAccess(problems: ProblemCollector, owner: EdgeFleet, props: EdgeFleetProps): void {
    const path = owner.node.path;
    if (owner.deviceClass !== props.deviceClass) problems.add('deviceAccess', path, `It is a fleet of class ${owner.deviceClass}, not ${props.deviceClass}: share device access only within one class.`);
    if (owner.accessOwner) problems.add('deviceAccess', path, `It uses ${owner.accessOwner.node.path}'s device access itself: give that fleet instead.`);
    if (Stack.of(owner) !== Stack.of(this)) problems.add('deviceAccess', path, 'It is in another stack: share device access only within one stack (its policy lists this fleet\'s prefix).');
    if (props.roleAliasName !== undefined) problems.add('roleAliasName', props.roleAliasName, 'The role alias is the deviceAccess fleet\'s: leave roleAliasName out.');
    if (props.credentialDuration !== undefined) problems.add('credentialDuration', props.credentialDuration.toHumanString(), 'Credentials are the deviceAccess fleet\'s: leave credentialDuration out.');
    this.accessOwner = owner;
  }

  /** The token exchange role: S3 reads of the store's `packages/`, logs under `/aws/greengrass/`. */
  private createTokenExchangeRole(props: EdgeFleetProps): iam.Role {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'TokenExchangeRole', {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description: `cdk-edge-model-pipeline: assumed by ${props.deviceClass} Greengrass core devices through their role alias`,
      maxSessionDuration: Duration.hours(12),
    });
    props.store.grantArtifactDownload(role, ArtifactStore.PACKAGE_PREFIX);
    const logGroups = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/greengrass/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [logGroups],
    }));
    acknowledge(role, 'GREENGRASS_LOG_GROUPS', [nagResource(role, logGroups)]);
    return role;
  }

  /** The core-device IoT policy, scoped by the thing-name prefix of every fleet that uses it. */
  private corePolicy(roleAliasArn: string): object {
    const stack = Stack.of(this);
    const iotArn = (resource: string, name: string) => stack.formatArn({ service: 'iot', resource, resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const prefixes = [...new Set(this.accessMembers.map((m) => m.thingNamePrefix))];
    const each = (resource: string, name: (prefix: string) => string) => prefixes.map((p) => iotArn(resource, name(p)));
    const agentTopics = this.accessMembers.flatMap((m) => m.agentTopicResources(iotArn));
    return {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'Connect', Effect: 'Allow', Action: 'iot:Connect', Resource: each('client', (p) => `${p}*`) },
        { Sid: 'OwnTopics', Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: each('topic', (p) => `$aws/things/${p}*/*`) },
        { Sid: 'OwnTopicFilters', Effect: 'Allow', Action: 'iot:Subscribe', Resource: each('topicfilter', (p) => `$aws/things/${p}*/*`) },
        // The edge agent's results and telemetry, each under the device's own thing name and
        // under the topic root of each agent component the fleet runs (see allowAgentTopics).
        ...(agentTopics.length ? [{ Sid: 'EdgeAgentTopics', Effect: 'Allow', Action: 'iot:Publish', Resource: [...new Set(agentTopics)] }] : []),
        { Sid: 'OwnShadows', Effect: 'Allow', Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'], Resource: each('thing', (p) => `${p}*`) },
        { Sid: 'TokenExchange', Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: roleAliasArn },
        {
          // These four Greengrass data-plane actions take no resource ARN (Greengrass developer guide,
          // "Minimal AWS IoT policy for AWS IoT Greengrass V2 core devices").
          Sid: 'GreengrassDataPlane',
          Effect: 'Allow',
          Action: [
            'greengrass:GetComponentVersionArtifact',
            'greengrass:ResolveComponentCandidates',
            'greengrass:GetDeploymentConfiguration',
            'greengrass:ListThingGroupsForCoreDevice',
          ],
          Resource: '*',
        },
      ],
    };
  }

  /**
   * Lets the fleet's devices publish an edge agent's results and telemetry under `root` (each
   * device under its own thing name, telemetry under its own class). EdgeAgentComponent calls it
   * for the fleets it is given.
   *
   * @internal
   */
  public _allowAgentTopics(root: string): void {
    if (!this.agentTopicRoots.includes(root)) this.agentTopicRoots.push(root);
  }

  private readonly agentTopicRoots: string[] = [];

  /** The agent topics this fleet's devices publish: results and telemetry under each root, each under its own thing name. */
  private agentTopicResources(iotArn: (resource: string, name: string) => string): string[] {
    const prefix = this.thingNamePrefix;
    return this.agentTopicRoots.flatMap((root) => {
      const topics = new AgentTopics(root);
      return [iotArn('topic', `${topics.results}/*/${prefix}*`), iotArn('topic', `${topics.telemetry}/${this.deviceClass}/${prefix}*`)];
    });
  }

  /** The ARN pattern of this fleet's things. */
  public thingArnPattern(): string {
    return Stack.of(this).formatArn({ service: 'iot', resource: 'thing', resourceName: `${this.thingNamePrefix}*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }
}
