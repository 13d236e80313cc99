import { App, CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ArtifactStore } from '../../lib';
import { EdgePipelineValidationError } from '../../lib/core/errors';
import { expectCompliant } from '../support/compliance';

function setup() {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  return { app, stack, store, template: Template.fromStack(stack) };
}

describe('ArtifactStore', () => {
  test('encrypts with a customer managed key that rotates and lets only AWS services create grants', () => {
    const { template } = setup();
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({
        Effect: 'Deny',
        Action: 'kms:CreateGrant',
        Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      })]) },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
    });
  });

  test('versioned, private, TLS-only, logged, EventBridge on, old versions expire', () => {
    const { template, stack, store } = setup();
    const id = stack.getLogicalId(store.bucket.node.defaultChild as s3.CfnBucket);
    const bucket = template.toJSON().Resources[id].Properties;
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: expect.stringMatching(/^StoreAccessLogs/) }, LogFilePrefix: 'artifact-store/' });
    expect(bucket.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(bucket.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: 'Enabled' })]);
    expect(bucket.BucketName).toBeUndefined();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('access logs arrive through a bucket policy scoped to the store, not ACLs', () => {
    const { template } = setup();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Action: 's3:PutObject',
        Condition: { ArnLike: { 'aws:SourceArn': Match.anyValue() }, StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      })]) },
    });
    template.resourcePropertiesCountIs('AWS::S3::Bucket', { AccessControl: Match.anyValue() }, 0);
  });

  test('grantRead and grantWrite are scoped to a prefix', () => {
    const stack = new Stack(new App(), 'Test');
    const store = new ArtifactStore(stack, 'Store');
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    store.grantRead(role, ArtifactStore.REPORT_PREFIX);
    store.grantWrite(role, ArtifactStore.PACKAGE_PREFIX);
    const statements = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy)]
      .Properties.PolicyDocument.Statement as Record<string, unknown>[];
    const text = statements.map((s) => `${JSON.stringify(s.Action)} ${JSON.stringify(s.Resource)} ${JSON.stringify(s.Condition ?? {})}`);
    expect(text).toEqual(expect.arrayContaining([
      expect.stringMatching(/^"s3:GetObject" .*"\/reports\/\*"/),
      expect.stringMatching(/^"s3:ListBucket" .*"s3:prefix":\["reports\/\*"\]/),
      expect.stringMatching(/^"s3:PutObject" .*"\/packages\/\*"/),
    ]));
    // No versions, no multipart uploads unless asked for.
    expect(text.join('\n')).not.toMatch(/GetObjectVersion|AbortMultipartUpload/);
    expect(text.join('\n')).not.toMatch(/s3:\*|s3:Delete|"\*"/);
  });

  test('accepts an existing bucket and creates nothing', () => {
    const stack = new Stack(new App(), 'Test');
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'team-models');
    const store = new ArtifactStore(stack, 'Store', { bucket });
    expect(store.bucket).toBe(bucket);
    expect(stack.node.findAll().filter((c) => CfnResource.isCfnResource(c))).toEqual([]);
  });

  test('fails when an existing bucket has dots in its name', () => {
    const stack = new Stack(new App(), 'Test');
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'models.example.com');
    expect(() => new ArtifactStore(stack, 'Store', { bucket })).toThrow(EdgePipelineValidationError);
    expect(() => new ArtifactStore(stack, 'Store2', { bucket })).toThrow('bucket: got "models.example.com". Greengrass v2 cannot read artifacts from a bucket whose name has dots');
  });

  test('fails when options for a new bucket come with an existing one', () => {
    const stack = new Stack(new App(), 'Test');
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'team-models');
    expect(() => new ArtifactStore(stack, 'Store', { bucket, removalPolicy: RemovalPolicy.DESTROY })).toThrow(/apply only to a new bucket/);
  });

  test('fails when old versions would expire in less than a day', () => {
    const stack = new Stack(new App(), 'Test');
    expect(() => new ArtifactStore(stack, 'Store', { noncurrentVersionExpiration: Duration.hours(1) })).toThrow(/noncurrentVersionExpiration: got 0.041/);
  });

  test('passes cdk-nag AwsSolutions and the Control Tower guard rules', () => {
    const { app, stack } = setup();
    expectCompliant(app, stack);
  });
});
