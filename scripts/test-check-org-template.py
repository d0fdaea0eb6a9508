#!/usr/bin/env python3
"""The StackSet template's checks can fail: each broken variant of the translated template must
be refused by check-org-template.py, naming why, and org-template.py must refuse what it cannot
translate faithfully.

Run by scripts/lint-template.sh after the check passes on the real translation. Everything runs
in this process, on template.yaml as it is now (the variants pick its functions by binary).
"""
import copy
import importlib.util
import logging
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "template.yaml"


def load(name, file):
    spec = importlib.util.spec_from_file_location(name, HERE / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


org_template = load("org_template", "org-template.py")
check_org = load("check_org_template", "check-org-template.py")
import org_code  # noqa: E402  (after the loads: scripts/ is on the path as their directory)

from samtranslator.yaml_helper import yaml_parse  # noqa: E402

BINARIES = org_code.makefile_functions()
# A translation refused halfway leaves SAM's usage metrics unpublished, which SAM warns about.
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)


def source():
    return yaml_parse(TEMPLATE.read_text())


def function_of(org, binary):
    """The translated function that runs binary."""
    return next(name for name, resource in org["Resources"].items()
                if resource["Type"] == "AWS::Lambda::Function"
                and resource["Properties"]["Code"] == check_org.expected_code(binary))


def transform_left(org):
    org["Transform"] = "AWS::Serverless-2016-10-31"


def sam_resource_left(org):
    org["Resources"]["LeftOver"] = {"Type": "AWS::Serverless::Function", "Properties": {}}


def fixed_bucket(org):
    code = org["Resources"][function_of(org, BINARIES[0])]["Properties"]["Code"]
    code["S3Bucket"] = "rds-responder-code-us-east-1"


def bucket_of_one_region(org):
    code = org["Resources"][function_of(org, BINARIES[0])]["Properties"]["Code"]
    code["S3Bucket"] = {"Fn::Sub": "${CodeBucketPrefix}-us-east-1"}


def key_without_version(org):
    code = org["Resources"][function_of(org, BINARIES[0])]["Properties"]["Code"]
    code["S3Key"] = {"Fn::Sub": f"rds-responder/{BINARIES[0]}.zip"}


def key_of_fixed_version(org):
    code = org["Resources"][function_of(org, BINARIES[0])]["Properties"]["Code"]
    code["S3Key"] = f"rds-responder/0123456789ab/{BINARIES[0]}.zip"


def binary_not_packaged(org):
    code = org["Resources"][function_of(org, BINARIES[0])]["Properties"]["Code"]
    code["S3Key"] = {"Fn::Sub": "rds-responder/${CodeVersion}/bare-lambda.zip"}


def binary_twice(org):
    second = function_of(org, BINARIES[1])
    org["Resources"][second]["Properties"]["Code"] = check_org.expected_code(BINARIES[0])


def missing_function(org):
    del org["Resources"][function_of(org, BINARIES[-1])]


def missing_version_parameter(org):
    del org["Parameters"]["CodeVersion"]


def loose_prefix_parameter(org):
    org["Parameters"]["CodeBucketPrefix"]["AllowedPattern"] = ".*"


def stack_named(org):
    function = org["Resources"][function_of(org, BINARIES[0])]
    function["Properties"]["FunctionName"] = {"Fn::Sub": f"${{AWS::StackName}}-{BINARIES[0]}"}


def long_deployment_name(org):
    org["Parameters"]["DeploymentName"]["MaxLength"] = 64 - len(BINARIES[0])


def unbounded_function_name(org):
    function = org["Resources"][function_of(org, BINARIES[0])]
    function["Properties"]["FunctionName"] = {"Fn::Sub": f"${{DeploymentName}}-${{DbName}}-{BINARIES[0]}"}


SSM_TYPE = "AWS::SSM::Parameter::Value<"


def account_parameter(org):
    """The first parameter read from each account's SSM parameter (the subnets, today)."""
    return next(name for name, p in org["Parameters"].items() if p["Type"].startswith(SSM_TYPE))


def account_value_given(org):
    parameter = org["Parameters"][account_parameter(org)]
    parameter["Type"] = parameter["Type"][len(SSM_TYPE):-1]


def missing_deployment_name(org):
    del org["Parameters"]["DeploymentName"]


VARIANTS = [
    ("the Transform left in", transform_left, "[no-transform]"),
    ("a SAM resource left", sam_resource_left, "[no-sam] LeftOver"),
    ("a function's code in a fixed bucket", fixed_bucket, "[code-location] {first}"),
    ("a function's code in one region's bucket", bucket_of_one_region, "[code-location] {first}"),
    ("a key without the version", key_without_version, "[code-location] {first}"),
    ("a key of a fixed version", key_of_fixed_version, "[code-location] {first}"),
    ("a binary `make package` does not publish", binary_not_packaged, "[code-location] {first}"),
    ("a binary twice", binary_twice, f"[one-function-per-binary] {BINARIES[0]}.zip is the code of 2"),
    ("a function missing", missing_function, "[every-function] {last} of"),
    ("no CodeVersion parameter", missing_version_parameter, "[code-parameters] no parameter CodeVersion"),
    ("CodeBucketPrefix taking any name", loose_prefix_parameter, "[code-parameters] CodeBucketPrefix"),
    ("a name from the stack name", stack_named, "[deployment-name] the template names AWS::StackName"),
    ("a DeploymentName too long for a function name", long_deployment_name,
     "[function-name-length] {first}: its name can be"),
    ("a function name of another parameter too", unbounded_function_name, "[function-name-length] {first}: FunctionName"),
    ("no DeploymentName parameter", missing_deployment_name, "[deployment-name] no parameter DeploymentName"),
    ("subnets given to every account alike", account_value_given, "[account-values] {account_value}"),
]


# The translation's own refusals and its region handling, on the SAM template.
def without_binary(template):
    first = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    del first["Metadata"]["BuildProperties"]["Binary"]


def destination(value):
    def change(template):
        first = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
        config = first["Properties"].setdefault("EventInvokeConfig", {})
        config.setdefault("DestinationConfig", {})["OnSuccess"] = {"Type": "EventBridge", "Destination": value}
    return change


DEFAULT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
JOINED_BUS = {"Fn::Join": [":", ["arn", {"Ref": "AWS::Partition"}, "events", {"Ref": "AWS::Region"},
                                 {"Ref": "AWS::AccountId"}, "event-bus/default"]]}
REFUSED_TRANSLATIONS = [
    ("a function without its Binary", without_binary, "no Metadata.BuildProperties.Binary"),
    # SAM resolves an EventInvokeConfig's Refs itself: they would be one region's, in every region.
    ("a destination naming the region by Ref", destination(JOINED_BUS), "region or partition as a fixed value"),
]


def refused(what, problems, words):
    if any(words in problem for problem in problems):
        return True
    print(f"test-check-org-template: {what}: not refused as expected ({words!r}); got: {problems}")
    return False


def translation_failures():
    failures = 0
    for what, change, words in REFUSED_TRANSLATIONS:
        template = source()
        change(template)
        try:
            org_template.org_template(template, "v1")
        except SystemExit as error:
            failures += not refused(what, [str(error.code)], words)
        else:
            print(f"test-check-org-template: {what}: translated, not refused")
            failures += 1
    # A region SAM resolves inside a !Sub comes back as ${AWS::Region}, not the region it ran in.
    template = source()
    destination({"Fn::Sub": DEFAULT_BUS})(template)
    org = org_template.org_template(template, "v1")
    configs = [r["Properties"] for r in org["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    found = [c.get("DestinationConfig", {}).get("OnSuccess", {}).get("Destination") for c in configs]
    if {"Fn::Sub": DEFAULT_BUS} not in found:
        print(f"test-check-org-template: a destination in a !Sub: {found}, not {DEFAULT_BUS}")
        failures += 1
    return failures


def main():
    failures = 0
    real = org_template.org_template(source(), "v1")
    problems = check_org.check(real, str(TEMPLATE), BINARIES)
    if problems:
        print(f"test-check-org-template: the real translation is refused: {problems}")
        failures += 1
    names = {"first": function_of(real, BINARIES[0]), "last": function_of(real, BINARIES[-1]),
             "account_value": account_parameter(real)}
    for what, change, words in VARIANTS:
        broken = copy.deepcopy(real)
        change(broken)
        failures += not refused(what, check_org.check(broken, str(TEMPLATE), BINARIES), words.format(**names))
    failures += translation_failures()
    if failures:
        sys.exit(1)
    print(f"test-check-org-template: {len(VARIANTS)} broken StackSet templates and "
          f"{len(REFUSED_TRANSLATIONS)} untranslatable SAM templates refused; a region in a !Sub kept")


if __name__ == "__main__":
    main()
