"""Where an organization's deployments find the functions' code, in one place for the scripts
that write it (org-publish.py), point at it (org-template.py) and check both (check-org-template.py).

One bucket per region, since Lambda reads a function's code only from a bucket in the function's
region: <prefix>-<region>. One key per version and binary: rds-responder/<version>/<binary>.zip,
under the prefix org/code-bucket.yaml lets the organization read.
"""
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Bucket names are 3-63 lowercase letters, digits, dots and hyphens, begin and end with a letter
# or digit and hold no two adjacent dots; the longest region name and its hyphen leave 48 for the
# prefix. The same pattern is CodeBucketPrefix's AllowedPattern and org/code-bucket.yaml's.
BUCKET_PREFIX_PATTERN = r"^[a-z0-9](?:(?:[a-z0-9-]|\.(?!\.)){0,46}[a-z0-9])?$"
VERSION_PATTERN = r"^[A-Za-z0-9._-]+$"
REGION_PATTERN = r"^[a-z]{2}(?:-[a-z]+)+-[0-9]$"

# Where each member account keeps what only it can name (its subnets, its security groups): the
# values of the parameters of CloudFormation's AWS-specific types, ids of one account's resources.
SSM_PREFIX = "/rds-responder/"
ACCOUNT_TYPE = re.compile(r"^(List<)?AWS::(EC2|Route53)::[A-Za-z0-9:]+>?$")

# The function's Code in the translated template, as CloudFormation substitutes it per stack.
BUCKET_SUB = "${CodeBucketPrefix}-${AWS::Region}"


def key_sub(binary):
    return f"rds-responder/${{CodeVersion}}/{binary}.zip"


def object_key(version, binary):
    return f"rds-responder/{version}/{binary}.zip"


def bucket_name(prefix, region):
    return f"{prefix}-{region}"


def makefile_functions():
    """The Makefile's FUNCTIONS list: the binaries `make package` zips."""
    text = (ROOT / "Makefile").read_text()
    found = re.search(r"^FUNCTIONS\s*:?=(.*)$", text, re.MULTILINE)
    if not found or not found.group(1).split():
        raise SystemExit("org: no FUNCTIONS list in the Makefile")
    return found.group(1).split()


def default_version():
    """The commit the zips are built from, as `make org-template` and `make org-publish` name it."""
    try:
        return subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"org: no --code-version given and git cannot name HEAD: {error}")


def tree_changed():
    """Whether tracked files differ from HEAD: zips built from them are not the commit's."""
    result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                            capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip() != ""


def valid_version(version):
    return re.fullmatch(VERSION_PATTERN, version) is not None
