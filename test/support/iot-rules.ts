import { currentCaller } from './iam/caller';

/**
 * AWS IoT rules as the tests need them: a message published on a topic reaches a function only
 * through a rule of the synthesized template whose topic filter matches the topic, and the
 * function receives what the rule's SQL selects (SQL version 2016-03-23). The evaluator knows the
 * forms this library's rules use (`*`, `path [AS name]`, `topic(n) AS name`; a WHERE of `path = 'text'`
 * and `path > number` joined by AND) and refuses any other, so a rule that changes shape is
 * noticed here rather than evaluated wrongly.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Whether MQTT topic filter `filter` (with `+` and `#`) matches `topic`. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function valueAt(doc: Json, path: string): Json | undefined {
  let v: Json | undefined = doc;
  for (const part of path.split('.')) v = v !== null && typeof v === 'object' && !Array.isArray(v) ? v[part] : undefined;
  return v;
}

const PATH = '[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*';

/** The rule's parts: select list, topic filter, WHERE conditions. */
export function parseRule(sql: string): { select: string[]; from: string; where: string[] } {
  const m = /^SELECT (.+?) FROM '([^']+)'(?: WHERE (.+))?$/.exec(sql.trim());
  if (!m) throw new Error(`unsupported rule SQL: ${sql}`);
  return { select: m[1].split(',').map((s) => s.trim()), from: m[2], where: m[3] ? m[3].split(' AND ').map((s) => s.trim()) : [] };
}

/** What the rule passes on for `payload` published on `topic`; undefined when the filter or the WHERE clause lets it by. */
export function evaluateRule(sql: string, topic: string, payload: Json): Record<string, Json> | undefined {
  const rule = parseRule(sql);
  if (!topicMatches(rule.from, topic)) return undefined;
  for (const cond of rule.where) {
    const eq = new RegExp(`^(${PATH}) = '([^']*)'$`).exec(cond);
    const gt = new RegExp(`^(${PATH}) > (-?\\d+(?:\\.\\d+)?)$`).exec(cond);
    if (eq) {
      if (valueAt(payload, eq[1]) !== eq[2]) return undefined;
    } else if (gt) {
      const v = valueAt(payload, gt[1]);
      if (typeof v !== 'number' || !(v > Number(gt[2]))) return undefined;
    } else throw new Error(`unsupported WHERE condition: ${cond}`);
  }
  const levels = topic.split('/');
  const out: Record<string, Json> = {};
  for (const item of rule.select) {
    if (item === '*') {
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('SELECT * of a message that is not a JSON object');
      Object.assign(out, payload);
      continue;
    }
    const topicLevel = /^topic\((\d+)\) AS ([A-Za-z_][A-Za-z0-9_]*)$/.exec(item);
    const path = new RegExp(`^(${PATH})(?: AS ([A-Za-z_][A-Za-z0-9_]*))?$`).exec(item);
    if (topicLevel) {
      const level = levels[Number(topicLevel[1]) - 1];
      if (level !== undefined) out[topicLevel[2]] = level;
    } else if (path) {
      const v = valueAt(payload, path[1]);
      // IoT SQL leaves out what is undefined.
      if (v !== undefined) out[path[2] ?? path[1].split('.').pop()!] = v;
    } else throw new Error(`unsupported select item: ${item}`);
  }
  return out;
}

interface RuleResource { Type: string; Properties: { TopicRulePayload: { Sql: string; Actions: { Lambda?: { FunctionArn: string } }[] } } }

/**
 * The rules of the current run's account that invoke the function `which` (logical id prefix or
 * pattern), as SQL. Outside a run with an account there are none.
 */
export function rulesInvoking(which: string | RegExp): string[] | undefined {
  const caller = currentCaller();
  if (!caller) return undefined;
  const fn = caller.account.lambdaFunction(which);
  return caller.account.resources.flatMap((resources) => Object.values(resources as Record<string, RuleResource>))
    .filter((r) => r.Type === 'AWS::IoT::TopicRule' && r.Properties.TopicRulePayload.Actions.some((a) => a.Lambda?.FunctionArn === fn.arn))
    .map((r) => r.Properties.TopicRulePayload.Sql);
}

/**
 * What the function `which` receives when a device publishes `payload` on `topic`: the event of
 * the one rule of the account that invokes it and lets the message through. Fails when no rule
 * would deliver it (a topic the rule does not read is a message lost on a real account).
 */
export function deliveredEvent(which: string | RegExp, topic: string, payload: Json): Record<string, Json> {
  const rules = rulesInvoking(which);
  if (!rules || rules.length === 0) throw new Error(`no topic rule of the account invokes ${String(which)}`);
  const events = rules.map((sql) => evaluateRule(sql, topic, payload)).filter((e) => e !== undefined);
  if (events.length === 0) throw new Error(`no topic rule invoking ${String(which)} reads ${topic} (rules: ${rules.join(' | ')})`);
  if (events.length > 1) throw new Error(`${events.length} rules would each invoke ${String(which)} for ${topic}`);
  return events[0]!;
}

/**
 * The topic root the edge agent of a deployment publishes under: the `topicRoot` of the recipe
 * (in the current run's account) of the deployed component that has one. Outside a run with an
 * account, undefined.
 */
export function deployedTopicRoot(components: Record<string, unknown>): string | undefined {
  const caller = currentCaller();
  if (!caller) return undefined;
  const roots = caller.account.resources.flatMap((resources) => Object.values(resources as Record<string, { Type: string; Properties: { InlineRecipe?: string } }>))
    .filter((r) => r.Type === 'AWS::GreengrassV2::ComponentVersion' && r.Properties.InlineRecipe)
    .map((r) => JSON.parse(r.Properties.InlineRecipe!) as { ComponentName: string; ComponentConfiguration?: { DefaultConfiguration?: { topicRoot?: string } } })
    .filter((recipe) => recipe.ComponentName in components && recipe.ComponentConfiguration?.DefaultConfiguration?.topicRoot !== undefined)
    .map((recipe) => recipe.ComponentConfiguration!.DefaultConfiguration!.topicRoot!);
  if (roots.length !== 1) throw new Error(`expected one deployed edge agent with a topic root among ${Object.keys(components).join(', ')}, found ${roots.length}`);
  return roots[0];
}
