import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Validates requests against AWS's own service descriptions (botocore
 * service-2.json, copied into test/fixtures/aws-models): required members, unknown members,
 * enums, string lengths and patterns, number ranges, list sizes.
 *
 * Member names are compared with the first letter case-folded, because the
 * Step Functions aws-sdk integration uses PascalCase for every service.
 */

interface Shape {
  type: string;
  required?: string[];
  members?: Record<string, { shape: string }>;
  member?: { shape: string };
  key?: { shape: string };
  value?: { shape: string };
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}
interface ServiceModel {
  metadata: { serviceId: string; endpointPrefix: string };
  operations: Record<string, { input?: { shape: string }; errors?: { shape: string }[] }>;
  shapes: Record<string, Shape>;
}

const MODELS_DIR = path.join(__dirname, '..', 'fixtures', 'aws-models');
const cache = new Map<string, ServiceModel>();

export type ServiceName = 'sagemaker' | 'greengrassv2' | 'iot' | 's3' | 'sns' | 'stepfunctions' | 'dynamodb' | 'kms' | 'sqs' | 'cloudwatch' | 'events';

export const SERVICE_NAMES: ServiceName[] = ['sagemaker', 'greengrassv2', 'iot', 's3', 'sns', 'stepfunctions', 'dynamodb', 'kms', 'sqs', 'cloudwatch', 'events'];

function load(service: ServiceName): ServiceModel {
  let model = cache.get(service);
  if (!model) {
    const file = path.join(MODELS_DIR, `${service}.json`);
    if (!fs.existsSync(file)) throw new Error(`The service description ${file} is missing: copy it from botocore (see test/fixtures/aws-models/NOTICE).`);
    model = JSON.parse(fs.readFileSync(file, 'utf8')) as ServiceModel;
    cache.set(service, model);
  }
  return model;
}

const foldFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

const patternCache = new Map<string, RegExp | null>();
function compilePattern(pattern: string): RegExp | null {
  if (!patternCache.has(pattern)) {
    let re: RegExp | null;
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      try {
        re = new RegExp(`^(?:${pattern})$`);
      } catch {
        re = null;
      }
    }
    patternCache.set(pattern, re);
  }
  return patternCache.get(pattern)!;
}

function check(model: ServiceModel, shapeName: string, value: unknown, where: string, errors: string[]): void {
  const shape = model.shapes[shapeName];
  if (!shape) {
    errors.push(`${where}: shape ${shapeName} is not in the model`);
    return;
  }
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push(`${where}: expected an object (${shapeName}), got ${JSON.stringify(value)}`);
        return;
      }
      const members = shape.members ?? {};
      const byFolded = new Map(Object.keys(members).map((m) => [foldFirst(m), m]));
      const given = new Map(Object.entries(value).filter(([, v]) => v !== undefined).map(([k]) => [foldFirst(k), k]));
      for (const required of shape.required ?? []) {
        if (!given.has(foldFirst(required))) errors.push(`${where}: required member ${required} is missing (${shapeName})`);
      }
      for (const [folded, key] of given) {
        const member = byFolded.get(folded);
        if (!member) {
          errors.push(`${where}: ${key} is not a member of ${shapeName} (members: ${Object.keys(members).join(', ')})`);
          continue;
        }
        check(model, members[member].shape, (value as Record<string, unknown>)[key], `${where}.${key}`, errors);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) {
        errors.push(`${where}: expected a list (${shapeName})`);
        return;
      }
      if (shape.min !== undefined && value.length < shape.min) errors.push(`${where}: ${value.length} items, at least ${shape.min} (${shapeName})`);
      if (shape.max !== undefined && value.length > shape.max) errors.push(`${where}: ${value.length} items, at most ${shape.max} (${shapeName})`);
      value.forEach((item, i) => check(model, shape.member!.shape, item, `${where}[${i}]`, errors));
      return;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push(`${where}: expected a map (${shapeName})`);
        return;
      }
      const entries = Object.entries(value);
      if (shape.min !== undefined && entries.length < shape.min) errors.push(`${where}: ${entries.length} entries, at least ${shape.min}`);
      if (shape.max !== undefined && entries.length > shape.max) errors.push(`${where}: ${entries.length} entries, at most ${shape.max}`);
      for (const [k, v] of entries) {
        check(model, shape.key!.shape, k, `${where} key ${JSON.stringify(k)}`, errors);
        check(model, shape.value!.shape, v, `${where}.${k}`, errors);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') {
        errors.push(`${where}: expected a string (${shapeName}), got ${JSON.stringify(value)}`);
        return;
      }
      if (shape.enum && !shape.enum.includes(value)) errors.push(`${where}: ${JSON.stringify(value)} is not one of ${shape.enum.join(', ')}`);
      const length = [...value].length;
      if (shape.min !== undefined && length < shape.min) errors.push(`${where}: ${length} characters, at least ${shape.min} (${shapeName})`);
      if (shape.max !== undefined && length > shape.max) errors.push(`${where}: ${length} characters, at most ${shape.max} (${shapeName})`);
      if (shape.pattern) {
        const re = compilePattern(shape.pattern);
        if (re && !re.test(value)) errors.push(`${where}: ${JSON.stringify(value)} does not match ${shape.pattern} (${shapeName})`);
      }
      return;
    }
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        errors.push(`${where}: expected an integer (${shapeName}), got ${JSON.stringify(value)}`);
        return;
      }
      if (shape.min !== undefined && value < shape.min) errors.push(`${where}: ${value} is below ${shape.min} (${shapeName})`);
      if (shape.max !== undefined && value > shape.max) errors.push(`${where}: ${value} is above ${shape.max} (${shapeName})`);
      return;
    }
    case 'float':
    case 'double':
      if (typeof value !== 'number') errors.push(`${where}: expected a number (${shapeName})`);
      else {
        if (shape.min !== undefined && value < shape.min) errors.push(`${where}: ${value} is below ${shape.min} (${shapeName})`);
        if (shape.max !== undefined && value > shape.max) errors.push(`${where}: ${value} is above ${shape.max} (${shapeName})`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${where}: expected a boolean (${shapeName})`);
      return;
    case 'timestamp':
      if (typeof value !== 'string' && typeof value !== 'number') errors.push(`${where}: expected a timestamp (${shapeName})`);
      return;
    case 'blob':
      // Step Functions passes blobs as text; the SDK takes bytes.
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) errors.push(`${where}: expected text or bytes (${shapeName})`);
      else if (shape.min !== undefined && value.length < shape.min) errors.push(`${where}: ${value.length} bytes, at least ${shape.min} (${shapeName})`);
      return;
    default:
      errors.push(`${where}: shape type ${shape.type} is not handled by this validator`);
  }
}

/**
 * The problems with `request` as the input of `operation` (an operation name
 * as in the model, such as `CreateCompilationJob`), or [] when the service
 * would accept it.
 */
export function requestProblems(service: ServiceName, operation: string, request: unknown): string[] {
  const model = load(service);
  const op = model.operations[operation];
  if (!op) throw new Error(`${service} has no operation ${operation}`);
  const errors: string[] = [];
  if (op.input) check(model, op.input.shape, request, operation, errors);
  return errors;
}

/** Fails with every problem when the service would refuse `request`. */
export function expectValidRequest(service: ServiceName, operation: string, request: unknown): void {
  const problems = requestProblems(service, operation, request);
  if (problems.length > 0) {
    throw new Error(`${service} ${operation} request is not one the service accepts:\n  ${problems.join('\n  ')}\n${JSON.stringify(request, null, 2)}`);
  }
}

/** The operation names of a service, as in the model (`CreateCompilationJob`). */
export function operationNames(service: ServiceName): string[] {
  return Object.keys(load(service).operations);
}

/** The errors the model says `operation` can raise, by shape name (`ResourceInUse`). */
export function operationErrors(service: ServiceName, operation: string): string[] {
  const op = load(service).operations[operation];
  if (!op) throw new Error(`${service} has no operation ${operation}`);
  return (op.errors ?? []).map((e) => e.shape);
}
