import * as fs from 'node:fs';
import * as path from 'node:path';
import { accessSummary, README_BEGIN, README_END, withSummary } from '../support/iam/report';

describe('README\'s Security section', () => {
  test('lists every action every role of the example stacks is allowed, as the templates say', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const security = readme.slice(readme.indexOf('## Security'), readme.indexOf('\n## ', readme.indexOf('## Security') + 1));
    expect(security).toContain(README_BEGIN);
    expect(security).toContain(README_END);
    // Out of date: run `npm run access-report -- --readme`.
    expect(readme).toBe(withSummary(readme, accessSummary()));
  });
});
