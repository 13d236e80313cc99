#!/usr/bin/env python3
"""Prints the Regions whose CloudFormation registry has every resource type a pipeline's fleets
need, from the per-Region provider schemas cfn-lint ships (AWS's CloudFormation registry, as
cfn-lint packages it). lib/core/regions.ts holds the result: run this when cfn-lint is upgraded
and update it (the cfn-lint version goes in that file's comment)."""
import glob
import os

import cfnlint

NEEDED = ['AWS::GreengrassV2::ComponentVersion', 'AWS::IoT::ThingGroup', 'AWS::IoT::RoleAlias', 'AWS::IoT::Policy', 'AWS::IoT::TopicRule', 'AWS::StepFunctions::StateMachine']
providers = os.path.join(os.path.dirname(cfnlint.__file__), 'data', 'schemas', 'providers')
regions = []
for path in sorted(glob.glob(os.path.join(providers, '*.py'))):
    name = os.path.basename(path)[:-3]
    if name.startswith('__'):
        continue
    text = open(path, encoding='utf8').read()
    if all(f'"{t}"' in text for t in NEEDED):
        regions.append(name.replace('_', '-'))
print(', '.join(f"'{r}'" for r in regions))
