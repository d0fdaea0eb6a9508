#!/usr/bin/env python3
"""Publishes the functions' zips (`make package`) for the StackSet: each binary of the Makefile's
FUNCTIONS to s3://<prefix>-<region>/rds-responder/<version>/<binary>.zip, in every region given,
each through a client of that region (Lambda reads a function's code only from its own region).

    org-publish.py --dist target/lambda --bucket-prefix P --regions "us-east-1 eu-west-1" [--code-version V]

Everything is checked before the first upload: the version and region names, every zip there,
each region's bucket there and in its region, and no published version holding other bytes (a stack updates its code only when the key
changes, so a version once published must not change under the stacks that run it; one
published with the same bytes is left as it is). Each upload is verified with a HeadObject.
The endpoint and credentials are boto3's usual ones (AWS_PROFILE, AWS_ENDPOINT_URL, ...).
Needs boto3 (the project's .venv has it).
"""
import argparse
import hashlib
import pathlib
import re
import sys

import boto3
from botocore.exceptions import ClientError

import org_code


def fail(message):
    sys.exit(f"org-publish: {message}")


def read_zips(dist, binaries):
    zips, missing = {}, []
    for binary in binaries:
        path = pathlib.Path(dist) / binary / "bootstrap.zip"
        if path.is_file():
            body = path.read_bytes()
            zips[binary] = (body, hashlib.sha256(body).hexdigest())
        else:
            missing.append(str(path))
    if missing:
        fail("no zip at " + ", ".join(missing) + " (make package builds them)")
    return zips


def check_bucket(s3, bucket, region):
    """The bucket exists and is in its region: Lambda reads code only from the function's region."""
    try:
        head = s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        fail(f"no bucket {bucket} readable in {region} ({error}); deploy org/code-bucket.yaml there")
    found = head.get("BucketRegion") or head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
    if found != region:
        fail(f"bucket {bucket} is in {found}, not {region}")


def published_sha256(s3, bucket, key):
    """The sha256 a published key was uploaded with, or None when there is no such key."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        fail(f"cannot read s3://{bucket}/{key}: {error}")
    return head.get("Metadata", {}).get("sha256", "unknown")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", required=True, help="the directory of <binary>/bootstrap.zip")
    parser.add_argument("--bucket-prefix", required=True)
    parser.add_argument("--regions", required=True, help="region names, separated by spaces or commas")
    parser.add_argument("--code-version")
    args = parser.parse_args()

    version = args.code_version or org_code.default_version()
    if not args.code_version and org_code.tree_changed():
        print(f"org-publish: warning: uncommitted changes; the zips may not be what commit {version} builds",
              file=sys.stderr)
    if not org_code.valid_version(version):
        fail(f"code version {version!r} holds more than [A-Za-z0-9._-]")
    if not re.fullmatch(org_code.BUCKET_PREFIX_PATTERN, args.bucket_prefix):
        fail(f"bucket prefix {args.bucket_prefix!r} cannot start a bucket name (<prefix>-<region>)")
    regions = args.regions.replace(",", " ").split()
    if not regions:
        fail("no region given")
    malformed = [r for r in regions if not re.fullmatch(org_code.REGION_PATTERN, r)]
    if malformed:
        fail(f"malformed region name(s): {', '.join(malformed)} (e.g. us-east-1)")
    zips = read_zips(args.dist, org_code.makefile_functions())

    clients = {region: boto3.client("s3", region_name=region) for region in regions}
    uploads, conflicts = [], []
    for region, s3 in clients.items():
        bucket = org_code.bucket_name(args.bucket_prefix, region)
        check_bucket(s3, bucket, region)
        for binary, (body, sha256) in zips.items():
            key = org_code.object_key(version, binary)
            published = published_sha256(s3, bucket, key)
            if published is None:
                uploads.append((s3, bucket, key, body, sha256))
            elif published == sha256:
                print(f"unchanged s3://{bucket}/{key} {len(body)} bytes sha256 {sha256}")
            else:
                conflicts.append(f"s3://{bucket}/{key} (published sha256 {published}, this build {sha256})")
    if conflicts:
        fail(f"version {version} is already published with other bytes: " + "; ".join(conflicts)
             + " -- publish under a new version (commit, or CODE_VERSION=...)")

    for s3, bucket, key, body, sha256 in uploads:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/zip",
                          Metadata={"sha256": sha256})
            size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except ClientError as error:
            fail(f"upload of s3://{bucket}/{key} failed: {error}")
        if size != len(body):
            fail(f"s3://{bucket}/{key} holds {size} bytes, not the {len(body)} uploaded")
        print(f"uploaded s3://{bucket}/{key} {len(body)} bytes sha256 {sha256}")
    print(f"org-publish: {len(zips)} zips, version {version}, in {' '.join(regions)}")


if __name__ == "__main__":
    main()
