import { CopyObjectCommand } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { ModelRegistryPipelineStack } from '../../examples/pipelines';
import { trigger } from '../../lambda/pipeline-trigger/index';
import { authorizeCommand, env, invokeAs, SdkCommand } from '../support/iam/caller';
import { accountOf, definitionOf, TEST_ENV } from '../support/state-machine';

/**
 * The Model Registry trigger as its function runs it in the Model Registry example: every call it
 * makes (DescribeModelPackage, the copy into the registry prefix, StartExecution) is authorized
 * against the synthesized policies, and the copy lands where no upload rule looks.
 */
describe('the Model Registry trigger, authorized as its function', () => {
  const account = accountOf(definitionOf(new ModelRegistryPipelineStack(new App(), 'Registry')))!;
  const fn = account.lambdaFunction('PipelineTrigger');
  const packageArn = `arn:${TEST_ENV.partition}:sagemaker:${TEST_ENV.region}:${TEST_ENV.account}:model-package/resnet-edge/7`;
  const event = { 'source': 'aws.sagemaker', 'detail-type': 'SageMaker Model Package State Change', 'detail': { ModelPackageArn: packageArn, ModelApprovalStatus: 'Approved' } };

  test('an approved package is copied into models/{pipeline}.registry/ and started: every call allowed', async () => {
    const sent: SdkCommand[] = [];
    const client = { send: async (command: SdkCommand) => {
      await authorizeCommand(command);
      sent.push(command);
      return command.constructor.name === 'DescribeModelPackageCommand'
        ? { ModelPackageGroupName: 'resnet-edge', ModelPackageVersion: 7, InferenceSpecification: { Containers: [{ ModelDataUrl: 's3://ml-team-models/resnet/model.tar.gz' }] } }
        : {};
    } };
    await invokeAs({ account, fn, decisions: account.decisions }, async () => {
      const cfg = { stateMachineArn: env('STATE_MACHINE_ARN', ''), bucket: env('STORE_BUCKET', ''), modelPrefix: env('MODEL_PREFIX', ''), registryPrefix: env('REGISTRY_PREFIX', '') };
      expect(cfg.registryPrefix).toBe('models/registry.registry/');
      expect(await trigger(event, cfg, { s3: client, sfn: client, sagemaker: client } as never)).toEqual({ started: true, runId: 'resnet-edge-v7' });
    });
    expect(sent.map((c) => c.constructor.name)).toEqual(['DescribeModelPackageCommand', 'CopyObjectCommand', 'StartExecutionCommand']);
    expect((sent[1].input as { Key: string }).Key).toBe('models/registry.registry/resnet-edge/v7/model.tar.gz');
  });

  test('the trigger may write only its registry prefix: a copy into models/ itself is refused', async () => {
    await invokeAs({ account, fn, decisions: [] }, async () => {
      await expect(authorizeCommand(new CopyObjectCommand({ Bucket: env('STORE_BUCKET', ''), Key: 'models/registry/resnet/model.tar.gz', CopySource: 'ml-team-models/resnet/model.tar.gz' }) as never))
        .rejects.toMatchObject({ name: 'AccessDeniedException' });
    });
  });
});
