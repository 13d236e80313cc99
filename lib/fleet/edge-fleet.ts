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

    this.tokenExchangeRole = new iam.Role(this, 'TokenExchangeRole', {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description: `cdk-edge-model-pipeline: assumed by ${props.deviceClass} Greengrass core devices through their role alias`,
      maxSessionDuration: Duration.hours(12),
    });
    props.store.grantArtifactDownload(this.tokenExchangeRole, ArtifactStore.PACKAGE_PREFIX);
    const logGroups = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '/aws/greengrass/*', arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.tokenExchangeRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [logGroups],
    }));
    acknowledge(this.tokenExchangeRole, 'GREENGRASS_LOG_GROUPS', [nagResource(this.tokenExchangeRole, logGroups)]);

    const roleAlias = new iot.CfnRoleAlias(this, 'RoleAlias', {
      roleAlias: aliasName,
      roleArn: this.tokenExchangeRole.roleArn,
      credentialDurationSeconds: seconds,
    });

    const iotArn = (resource: string, name: string) => stack.formatArn({ service: 'iot', resource, resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const prefix = props.thingNamePrefix;
    const policy = new iot.CfnPolicy(this, 'CoreDevicePolicy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'Connect', Effect: 'Allow', Action: 'iot:Connect', Resource: iotArn('client', `${prefix}*`) },
          {
            Sid: 'OwnTopics',
            Effect: 'Allow',
            Action: ['iot:Publish', 'iot:Receive'],
            Resource: [iotArn('topic', `$aws/things/${prefix}*/*`)],
          },
          { Sid: 'OwnTopicFilters', Effect: 'Allow', Action: 'iot:Subscribe', Resource: [iotArn('topicfilter', `$aws/things/${prefix}*/*`)] },
          // The edge agent's results and telemetry, each under the device's own thing name and
          // under the topic root of each agent component the fleet runs (see allowAgentTopics).
          Lazy.any({ produce: () => this.agentTopicsStatement(iotArn) }, { omitEmptyArray: true }),
          {
            Sid: 'OwnShadows',
            Effect: 'Allow',
            Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'],
            Resource: iotArn('thing', `${prefix}*`),
          },
          { Sid: 'TokenExchange', Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: roleAlias.attrRoleAliasArn },
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
      },
    });
    this.iotPolicyName = policy.ref;

    new CfnOutput(this, 'ThingGroupName', { value: groupName, description: `Thing group of the ${props.deviceClass} fleet (--thing-group-name)` });
    new CfnOutput(this, 'IotPolicyName', { value: policy.ref, description: `IoT policy of ${props.deviceClass} core devices (--thing-policy-name)` });
    new CfnOutput(this, 'RoleAliasName', { value: aliasName, description: `Role alias of the token exchange role (--tes-role-alias-name)` });
    new CfnOutput(this, 'TokenExchangeRoleName', { value: this.tokenExchangeRole.roleName, description: `Token exchange role (--tes-role-name)` });
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

  private agentTopicsStatement(iotArn: (resource: string, name: string) => string): object | undefined {
    if (this.agentTopicRoots.length === 0) return undefined;
    const prefix = this.thingNamePrefix;
    return {
      Sid: 'EdgeAgentTopics',
      Effect: 'Allow',
      Action: 'iot:Publish',
      Resource: this.agentTopicRoots.flatMap((root) => {
        const topics = new AgentTopics(root);
        return [iotArn('topic', `${topics.results}/*/${prefix}*`), iotArn('topic', `${topics.telemetry}/${this.deviceClass}/${prefix}*`)];
      }),
    };
  }

  /** The ARN pattern of this fleet's things. */
  public thingArnPattern(): string {
    return Stack.of(this).formatArn({ service: 'iot', resource: 'thing', resourceName: `${this.thingNamePrefix}*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }
}
