import { requestProblems } from './aws-model';

// The validator is what every request test relies on: it must refuse what the service refuses.
describe('the service-description validator', () => {
  const good = {
    CompilationJobName: 'digits-run-1-rasp4b-0123456789',
    RoleArn: 'arn:aws:iam::111122223333:role/NeoRole',
    InputConfig: { S3Uri: 's3://bucket/models/model.tar.gz', Framework: 'ONNX', DataInputConfig: '{"pixels":[1,64]}' },
    OutputConfig: { S3OutputLocation: 's3://bucket/compiled/', TargetDevice: 'rasp4b' },
    StoppingCondition: { MaxRuntimeInSeconds: 900 },
  };

  test('accepts a good CreateCompilationJob request', () => {
    expect(requestProblems('sagemaker', 'CreateCompilationJob', good)).toEqual([]);
  });

  test('accepts camelCase member names too (first letter folded)', () => {
    expect(requestProblems('sagemaker', 'DescribeCompilationJob', { compilationJobName: 'a-b' })).toEqual([]);
  });

  test.each([
    ['a missing required member', { ...good, RoleArn: undefined }, /required member RoleArn is missing/],
    ['a job name with underscores', { ...good, CompilationJobName: 'bad_name' }, /does not match/],
    ['a job name of 64 characters', { ...good, CompilationJobName: 'a'.repeat(64) }, /64 characters, at most 63/],
    ['an unknown target device', { ...good, OutputConfig: { S3OutputLocation: 's3://b/', TargetDevice: 'jetson_orin' } }, /"jetson_orin" is not one of/],
    ['an unknown member', { ...good, Extra: 1 }, /Extra is not a member/],
    ['a runtime of 0 seconds', { ...good, StoppingCondition: { MaxRuntimeInSeconds: 0 } }, /0 is below 1/],
    ['a framework version that breaks the pattern', { ...good, InputConfig: { ...good.InputConfig, FrameworkVersion: 'v1' } }, /FrameworkVersion/],
    ['a string where a structure goes', { ...good, OutputConfig: 'rasp4b' }, /expected an object/],
  ])('refuses %s', (_label, request, problem) => {
    const problems = requestProblems('sagemaker', 'CreateCompilationJob', request);
    expect(problems.join('\n')).toMatch(problem);
  });

  test('checks list sizes and nested members (greengrassv2 CreateDeployment)', () => {
    const problems = requestProblems('greengrassv2', 'CreateDeployment', {
      TargetArn: 'arn:aws:iot:eu-west-1:111122223333:thinggroup/cams',
      IotJobConfiguration: { JobExecutionsRolloutConfig: { MaximumPerMinute: 5000 } },
    });
    expect(problems.join('\n')).toMatch(/5000 is above 1000/);
  });
});
