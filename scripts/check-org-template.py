#!/usr/bin/env python3
"""Checks the StackSet template (scripts/org-template.py's output) for what a member account's
stack needs and cfn-lint cannot know: no SAM left (StackSets do not run the transform), every
function's code from its own region's organization bucket, under the published version, each of
the Makefile's binaries exactly once, every function of template.yaml there with its own, and no
name derived from the stack name (a StackSet's stack names are 48 characters and more), every
function name within Lambda's 64 characters whatever DeploymentName holds, and no parameter that
names one account's resources (subnets, security groups) but through each account's SSM parameter.

Every failure names its rule and the resource; all failures are reported, not only the first.

    check-org-template.py ORG.json [--template template.yaml]
"""
import argparse
import json
import pathlib
import re
import sys

import org_code

SAM_FUNCTION = "AWS::Serverless::Function"
FUNCTION_NAME_MAX = 64


def template_binaries(path):
    """template.yaml's SAM functions and the binary each builds."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(pathlib.Path(path).read_text())
    return {name: resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            for name, resource in template.get("Resources", {}).items()
            if resource.get("Type") == SAM_FUNCTION}


def expected_code(binary):
    return {"S3Bucket": {"Fn::Sub": org_code.BUCKET_SUB},
            "S3Key": {"Fn::Sub": org_code.key_sub(binary)}}


def code_binary(code, binaries):
    """The binary a function's Code names, if it is exactly the per-region, versioned location."""
    for binary in binaries:
        if code == expected_code(binary):
            return binary
    return None


def function_name_problems(resources, deployment_max):
    problems = []
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        given = resource.get("Properties", {}).get("FunctionName")
        if given is None or isinstance(given, str):
            longest = len(given or "")
        elif set(given) == {"Fn::Sub"} and isinstance(given["Fn::Sub"], str) \
                and not re.search(r"\$\{(?!DeploymentName\})", given["Fn::Sub"]):
            fixed = given["Fn::Sub"].replace("${DeploymentName}", "")
            longest = len(fixed) + deployment_max * given["Fn::Sub"].count("${DeploymentName}")
        else:
            problems.append(f"[function-name-length] {name}: FunctionName {json.dumps(given)} is neither "
                            "fixed nor a !Sub of DeploymentName alone: its length is unbounded")
            continue
        if longest > FUNCTION_NAME_MAX:
            problems.append(f"[function-name-length] {name}: its name can be {longest} characters "
                            f"(DeploymentName's MaxLength {deployment_max}), over Lambda's {FUNCTION_NAME_MAX}")
    return problems


def check(org, template_path, binaries):
    problems = []
    if "Transform" in org:
        problems.append(f"[no-transform] the template still names Transform {org['Transform']!r}: "
                        "StackSets do not run it")
    resources = org.get("Resources", {})
    for name, resource in resources.items():
        if resource.get("Type", "").startswith("AWS::Serverless::"):
            problems.append(f"[no-sam] {name} is {resource['Type']}: StackSets do not run the SAM transform")

    parameters = org.get("Parameters", {})
    for name, pattern in (("CodeBucketPrefix", org_code.BUCKET_PREFIX_PATTERN),
                          ("CodeVersion", org_code.VERSION_PATTERN)):
        parameter = parameters.get(name)
        if parameter is None:
            problems.append(f"[code-parameters] no parameter {name}: the functions' code location needs it")
        elif parameter.get("Type") != "String" or parameter.get("AllowedPattern") != pattern:
            problems.append(f"[code-parameters] {name} must be a String with AllowedPattern {pattern}")

    for name, parameter in parameters.items():
        if org_code.ACCOUNT_TYPE.match(parameter.get("Type", "")):
            problems.append(f"[account-values] {name} is {parameter['Type']}: one value for every account; "
                            f"read it from each account's SSM parameter ({org_code.SSM_PREFIX}{name})")
    if "AWS::StackName" in json.dumps(org):
        problems.append("[deployment-name] the template names AWS::StackName: a StackSet's stack is "
                        "StackSet-<name>-<id>; names derive from DeploymentName")
    deployment = parameters.get("DeploymentName")
    if deployment is None or not isinstance(deployment.get("MaxLength"), int):
        problems.append("[deployment-name] no parameter DeploymentName with a MaxLength")
    else:
        problems += function_name_problems(resources, deployment["MaxLength"])

    seen = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        code = resource.get("Properties", {}).get("Code")
        binary = code_binary(code, binaries)
        if binary is None:
            problems.append(f"[code-location] {name}: Code {json.dumps(code)} is not S3Bucket "
                            f"!Sub {org_code.BUCKET_SUB}, S3Key !Sub {org_code.key_sub('<binary>')} "
                            f"with a binary of the Makefile's FUNCTIONS ({' '.join(binaries)})")
        else:
            seen.setdefault(binary, []).append(name)
    for binary in binaries:
        holders = seen.get(binary, [])
        if len(holders) != 1:
            problems.append(f"[one-function-per-binary] {binary}.zip is the code of {len(holders)} "
                            f"functions ({', '.join(holders) or 'none'}), not one")

    for name, binary in template_binaries(template_path).items():
        resource = resources.get(name)
        if resource is None or resource.get("Type") != "AWS::Lambda::Function":
            problems.append(f"[every-function] {name} of {template_path} is no AWS::Lambda::Function here")
        elif resource.get("Properties", {}).get("Code") != expected_code(binary):
            problems.append(f"[every-function] {name} does not run its own binary, {binary}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("org")
    parser.add_argument("--template", default=str(org_code.ROOT / "template.yaml"))
    args = parser.parse_args()
    org = json.loads(pathlib.Path(args.org).read_text())
    problems = check(org, args.template, org_code.makefile_functions())
    for problem in problems:
        print(f"org template check failed: {problem}")
    if problems:
        sys.exit(1)
    print(f"org template check: {args.org} ok")


if __name__ == "__main__":
    main()
