"""Lints template.yaml twice: as written, and after the SAM transform.

cfn-lint checks SAM resources only against its own schemas, so a dangling `!Ref` or
`!GetAtt` inside a function or its policies passes unnoticed. This script runs the SAM
translator offline (aws-sam-translator, no AWS call: managed policy names are not resolved
and CodeUri is replaced by a placeholder S3 URI), writes the resulting CloudFormation next to
the cache, and runs cfn-lint on both. Any error or warning fails the run.

Usage: lint.py TEMPLATE OUT_DIR
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The translator's managed-policy loader, without the IAM call."""

    def load(self):
        return {}


def main() -> int:
    template, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    # The translator asks boto for a region; any fixed one will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    out_dir.mkdir(parents=True, exist_ok=True)
    parsed = yaml_parse(template.read_text())
    for resource in parsed.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://placeholder-bucket/placeholder-key"
    params = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}
    translated = transform(parsed, params, NoManagedPolicies())
    out = out_dir / "template.translated.json"
    out.write_text(json.dumps(translated, indent=1))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    status = 0
    for path in (template, out):
        result = subprocess.run([str(cfn_lint), str(path)], capture_output=True, text=True)
        if result.returncode != 0 or result.stdout.strip():
            print(f"cfn-lint {path.name}:\n{result.stdout}{result.stderr}")
            status = 1
    if status == 0:
        print(f"cfn-lint: no errors, no warnings ({template.name} and its SAM translation)")
    return status


if __name__ == "__main__":
    sys.exit(main())
