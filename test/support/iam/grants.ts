import { Account, Decision, Role } from './account';

/** One action an identity policy of a role allows, as the evaluator labels its statement. */
export interface Grant {
  readonly role: Role;
  /** `policy#sid-or-index`, as {@link Decision.grantedBy} names it. */
  readonly statement: string;
  readonly action: string;
  readonly resources: string[];
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const pattern = (glob: string) => new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');

/** Every action of every Allow statement of every role's identity policies in `account`. */
export function grantsOf(account: Account): Grant[] {
  const out: Grant[] = [];
  for (const role of account.roles.values()) {
    for (const { name, policy } of role.policies) {
      policy.Statement.forEach((s, i) => {
        if (s.Effect !== 'Allow') return;
        // iam-simulate numbers statements from 1 and prefers the Sid.
        const statement = `${name}#${s.Sid ?? i + 1}`;
        for (const action of list(s.Action)) out.push({ role, statement, action, resources: list(s.Resource) });
      });
    }
  }
  return out;
}

/** The grants that no allowed decision used: the statement granted some call, and the call's action is this one. */
export function unusedGrants(account: Account, decisions: Decision[]): Grant[] {
  const grants = grantsOf(account);
  const used = new Set<Grant>();
  for (const d of decisions) {
    if (!d.allowed) continue;
    const matches = (g: Grant) => g.role.arn === d.call.principal && pattern(g.action).test(d.call.action);
    // iam-simulate names the statements it used, except for a call on "*" (its wildcard answer):
    // then every statement of the role that allows the action on "*" did.
    const by = d.grantedBy.length ? grants.filter((g) => matches(g) && d.grantedBy.includes(g.statement)) : grants.filter((g) => matches(g) && g.resources.includes('*'));
    for (const g of by) used.add(g);
  }
  return grants.filter((g) => !used.has(g));
}
