#!/usr/bin/env python3
"""Translates the SAM template into plain CloudFormation, for a service-managed StackSet.

StackSets do not run the SAM transform, and a stack in a member account must read its code from
a bucket of its own region that the organization may read. So: SAM's transform, offline, as
`sam validate` runs it (a placeholder CodeUri, no managed policy looked up by name); then every
function's code from ${CodeBucketPrefix}-${AWS::Region}, key
rds-responder/${CodeVersion}/<binary>.zip (what scripts/org-publish.py uploads), <binary> being
the SAM function's Metadata.BuildProperties.Binary. And every name the template derives from the
stack name derives from the DeploymentName parameter instead: a StackSet names its stacks
StackSet-<stack set name>-<36-character id>, which leaves no room under Lambda's 64 characters for
<stack>-failover-check (and would give every function an unreadable name). And every parameter
of an AWS-specific type (SubnetIds, SecurityGroupIds: resources of one account) is read from an
SSM parameter of each account, /rds-responder/<name>: a StackSet gives every account the same
values, and an account that joins an OU later gets only those, never an override.

    org-template.py TEMPLATE OUT.json [--code-version V]   (default: git rev-parse --short=12 HEAD)

Run with the lint venv's python (scripts/lint-template.sh installs aws-sam-translator there).
"""
import argparse
import json
import os
import pathlib
import sys

import org_code

SAM_FUNCTION = "AWS::Serverless::Function"


def binaries(template):
    """Each SAM function's binary, by logical id (the translated function keeps the id)."""
    found, missing = {}, []
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != SAM_FUNCTION:
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if isinstance(binary, str) and binary:
            found[name] = binary
        else:
            missing.append(name)
    if missing:
        sys.exit("org-template: no Metadata.BuildProperties.Binary (the zip to deploy) on "
                 + ", ".join(missing))
    return found


# SAM resolves the pseudo parameters in some properties itself (an EventInvokeConfig's
# destination ARN), from the region it runs in: one region's ARN in every region's stack. Given
# these instead, they are put back as ${AWS::Region} / ${AWS::Partition} where a Fn::Sub holds them.
PSEUDO = {"AWS::Region": "rr-pseudo-region-0", "AWS::Partition": "rr-pseudo-partition"}

# Lambda's 64 characters less the longest name suffix (-failover-check); check-org-template.py
# holds every function name, with this many characters of DeploymentName, to 64.
DEPLOYMENT_NAME_MAX = 49


def translate(template):
    # boto3 wants a region even when SAM is given the pseudo parameters.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    for resource in template["Resources"].values():
        if resource.get("Type") == SAM_FUNCTION:
            resource.setdefault("Properties", {})["CodeUri"] = "s3://placeholder/code.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    try:
        return transform(template, dict(PSEUDO), NoManagedPolicies())
    except InvalidDocumentException as error:
        sys.exit("org-template: SAM cannot transform the template:\n"
                 + "\n".join(str(cause) for cause in error.causes))


def substituted(text):
    """A Fn::Sub string with PSEUDO's values as the pseudo parameters again, the stack name as
    DeploymentName."""
    for name, value in PSEUDO.items():
        text = text.replace(value, "${" + name + "}")
    return text.replace("${AWS::StackName}", "${DeploymentName}")


def portable(node, path):
    """node as every account and region can deploy it (substituted() in each Fn::Sub, Ref
    AWS::StackName as Ref DeploymentName); a PSEUDO value outside a Fn::Sub could only be a fixed
    region or partition, so it fails."""
    if isinstance(node, dict):
        if node == {"Ref": "AWS::StackName"}:
            return {"Ref": "DeploymentName"}
        if set(node) == {"Fn::Sub"}:
            sub = node["Fn::Sub"]
            if isinstance(sub, str):
                return {"Fn::Sub": substituted(sub)}
            if isinstance(sub, list) and sub and isinstance(sub[0], str):
                return {"Fn::Sub": [substituted(sub[0])] + portable(sub[1:], path + ["Fn::Sub"])}
        return {key: portable(value, path + [key]) for key, value in node.items()}
    if isinstance(node, list):
        return [portable(value, path + [str(i)]) for i, value in enumerate(node)]
    if isinstance(node, str) and any(value in node for value in PSEUDO.values()):
        sys.exit(f"org-template: SAM wrote its region or partition as a fixed value at {'.'.join(path)}: "
                 f"{node!r} (write it in a !Sub)")
    return node


def from_account_ssm(parameters):
    """Each AWS-specific parameter as the SSM parameter of the account that holds its value."""
    for name, parameter in parameters.items():
        kind = parameter.get("Type", "")
        if org_code.ACCOUNT_TYPE.match(kind):
            parameter["Type"] = f"AWS::SSM::Parameter::Value<{kind}>"
            parameter["Default"] = f"{org_code.SSM_PREFIX}{name}"
            parameter["Description"] = (f"The SSM parameter, in each account and region, holding {name} "
                                        "(comma-separated). " + parameter.get("Description", "")).strip()


def org_template(template, version):
    by_function = binaries(template)
    out = portable(translate(template), [])
    out.pop("Transform", None)
    resources = out["Resources"]
    left = sorted(f"{name} ({r['Type']})" for name, r in resources.items()
                  if r.get("Type", "").startswith("AWS::Serverless::"))
    if left:
        sys.exit("org-template: SAM resources left after the transform: " + ", ".join(left))
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        if name not in by_function:
            sys.exit(f"org-template: {name} is no SAM function with a Binary: which zip it runs is unknown")
        resource["Properties"]["Code"] = {
            "S3Bucket": {"Fn::Sub": org_code.BUCKET_SUB},
            "S3Key": {"Fn::Sub": org_code.key_sub(by_function[name])},
        }
    parameters = out.setdefault("Parameters", {})
    from_account_ssm(parameters)
    for name in ("CodeBucketPrefix", "CodeVersion", "DeploymentName"):
        if name in parameters:
            sys.exit(f"org-template: the template already has a parameter {name}")
    parameters["CodeBucketPrefix"] = {
        "Type": "String",
        "AllowedPattern": org_code.BUCKET_PREFIX_PATTERN,
        "Description": "The code buckets' name without the region: each stack reads its functions' "
                       "zips from <prefix>-<its region> (org/code-bucket.yaml, filled by make org-publish).",
    }
    parameters["CodeVersion"] = {
        "Type": "String",
        "Default": version,
        "AllowedPattern": org_code.VERSION_PATTERN,
        "Description": "The version the zips were published under: rds-responder/<version>/<binary>.zip.",
    }
    parameters["DeploymentName"] = {
        "Type": "String",
        "Default": "rds-responder",
        "AllowedPattern": "^[A-Za-z][A-Za-z0-9-]*$",
        "MaxLength": DEPLOYMENT_NAME_MAX,
        "Description": "What the stack name names in a stack of template.yaml: the functions "
                       "(<name>-failover-check, ...), log groups, alarms, schedules, metrics namespace. "
                       "Two StackSets that reach one account and region need two names.",
    }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template")
    parser.add_argument("out")
    parser.add_argument("--code-version")
    args = parser.parse_args()
    version = args.code_version or org_code.default_version()
    if not org_code.valid_version(version):
        sys.exit(f"org-template: code version {version!r} is not [A-Za-z0-9._-]+")

    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(pathlib.Path(args.template).read_text())
    out = org_template(template, version)
    target = pathlib.Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"org-template: {target} (code version {version})")


if __name__ == "__main__":
    main()
