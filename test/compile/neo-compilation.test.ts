import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArtifactStore, CompilationTarget, Framework, InputShape, ModelSource, TargetDevice } from '../../lib';
import { compileStack } from '../support/compile-stack';
import { expectCompliant } from '../support/compliance';

function setup(source?: (store: ArtifactStore, stack: Stack) => ModelSource) {
  const built = compileStack({ source, variants: [{ target: CompilationTarget.device(TargetDevice.RASP4B) }] });
  return { ...built, template: Template.fromStack(built.stack) };
}

/** Every statement of the policies attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleLogicalId }] } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement);
}

function roleId(stack: Stack, role: iam.IRole): string {
  return stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
}

describe('NeoCompilation resources', () => {
  test('the SageMaker role trusts SageMaker only for this account and this pipeline\'s jobs', () => {
    const { template, stack, compile } = setup();
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'sagemaker.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', Match.arrayWith([':compilation-job/digits-*'])] } },
          },
        }],
      },
    });
    expect(roleId(stack, compile.role)).toMatch(/^CompileCompilationRole/);
  });

  test('the SageMaker role reads only the model, writes only compiled/, logs only to the Neo log group', () => {
    const { template, stack, compile } = setup();
    const statements = statementsOf(template, roleId(stack, compile.role));
    const s3Statements = statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
    expect(s3Statements.map((st) => [st.Action, JSON.stringify(st.Resource)])).toEqual([
      ['s3:GetObject', expect.stringMatching(/"Fn::GetAtt":\["Store[0-9A-F]+","Arn"\]\},"\/models\/digits\/model\.tar\.gz"/)],
      [['s3:PutObject', 's3:AbortMultipartUpload'], expect.stringMatching(/"Fn::GetAtt":\["Store[0-9A-F]+","Arn"\]\},"\/compiled\/\*"/)],
    ]);
    const logs = statements.find((s) => JSON.stringify(s.Action).includes('logs:'))!;
    expect(JSON.stringify(logs.Resource)).toContain('log-group:/aws/sagemaker/CompilationJobs');
    // The one wildcard is the one the API forces: PutMetricData takes no resource.
    expect(statements.filter((s) => JSON.stringify(s.Resource) === '"*"').map((s) => s.Action)).toEqual(['cloudwatch:PutMetricData']);
  });

  test('the state machine may pass the role to SageMaker only, and touch only this pipeline\'s jobs', () => {
    const { template } = setup();
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('MachineRole') } }));
    const statements = policies.flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement);
    const passRole = statements.filter((s) => s.Action === 'iam:PassRole');
    expect(passRole).toEqual([{
      Action: 'iam:PassRole',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^CompileCompilationRole/), 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }]);
    const sagemaker = statements.filter((s) => String(s.Action).startsWith('sagemaker:'));
    expect(sagemaker.map((s) => s.Action).sort()).toEqual(['sagemaker:CreateCompilationJob', 'sagemaker:DescribeCompilationJob', 'sagemaker:StopCompilationJob']);
    for (const s of sagemaker) expect(JSON.stringify(s.Resource)).toContain(':compilation-job/digits-*');
  });

  test('handlers are bundles from dist/lambda with a description, a current runtime and an encrypted log group', () => {
    const { template } = setup();
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(2);
    for (const fn of Object.values(functions) as { Properties: Record<string, unknown> }[]) {
      expect(fn.Properties.Description).toMatch(/^cdk-edge-model-pipeline: /);
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Handler).toBe('index.handler');
    }
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 365 }, 3);
  });

  test('a model from the execution input may be read only under the store\'s models/ prefix', () => {
    const { template, stack, compile } = setup(() => ModelSource.fromExecutionInput({ framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] }));
    const reads = statementsOf(template, roleId(stack, compile.role)).filter((s) => JSON.stringify(s.Action).includes('s3:GetObject'));
    expect(reads).toHaveLength(1);
    expect(JSON.stringify(reads[0].Resource)).toContain('/models/*');
  });

  test('a model package with its own bucket: the role reads that bucket\'s objects', () => {
    const { template, stack, compile } = setup((_store, s) => ModelSource.fromModelPackage(
      'arn:aws:sagemaker:eu-west-1:111122223333:model-package/digits/3',
      { modelDataBucket: s3.Bucket.fromBucketName(s, 'Registry', 'registry-models') },
    ));
    const reads = statementsOf(template, roleId(stack, compile.role)).filter((s) => JSON.stringify(s.Action).includes('s3:GetObject'));
    expect(JSON.stringify(reads)).toContain('registry-models/*');
  });

  test('the stack passes cdk-nag AwsSolutions and the Control Tower guard rules', () => {
    const { app, stack } = setup();
    expectCompliant(app, stack);
  });
});
