#!/usr/bin/env python3
"""scripts/org-publish.py against the local stack's moto server (MOTO_ENDPOINT; run under
scripts/with-stack.sh): two regions' buckets, fake zips in a temporary dist directory; what it
uploads (keys, sizes, checksums), and what it refuses before uploading anything.

    scripts/with-stack.sh .venv/bin/python scripts/test-org-publish.py
"""
import hashlib
import os
import pathlib
import secrets
import subprocess
import sys
import tempfile

import boto3

import org_code

HERE = pathlib.Path(__file__).resolve().parent
REGIONS = ["us-east-1", "eu-west-1"]
BINARIES = org_code.makefile_functions()
# Its own buckets: the moto server is the whole test run's.
PREFIX = f"rr-org-publish-{secrets.token_hex(4)}"


class Test:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def expect(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{what}{': ' + detail if detail else ''}")


def environment():
    endpoint = os.environ.get("MOTO_ENDPOINT")
    if not endpoint:
        sys.exit("test-org-publish: no MOTO_ENDPOINT; run under scripts/with-stack.sh")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return env


def client(env, region):
    return boto3.client("s3", region_name=region, endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_bucket(s3, name, region):
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def write_dist(root, sizes):
    """Fake zips of the given sizes, one per binary; returns each one's bytes."""
    bodies = {}
    for binary, size in zip(BINARIES, sizes):
        body = secrets.token_bytes(size)
        (root / binary).mkdir(parents=True, exist_ok=True)
        (root / binary / "bootstrap.zip").write_bytes(body)
        bodies[binary] = body
    return bodies


def publish(env, dist, regions, version):
    return subprocess.run([sys.executable, str(HERE / "org-publish.py"), "--dist", str(dist),
                           "--bucket-prefix", PREFIX, "--regions", regions, "--code-version", version],
                          env=env, capture_output=True, text=True)


def keys(clients):
    found = {}
    for region, s3 in clients.items():
        bucket = org_code.bucket_name(PREFIX, region)
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        found[bucket] = {o["Key"]: o["Size"] for o in listed}
    return found


def refused(test, env, clients, what, dist, regions, version, words):
    result = publish(env, dist, regions, version)
    test.expect(f"{what}: refused", result.returncode != 0, result.stdout + result.stderr)
    test.expect(f"{what}: says why ({words!r})", words in result.stderr, result.stderr)
    uploaded = {bucket: objects for bucket, objects in keys(clients).items() if objects}
    test.expect(f"{what}: nothing uploaded", not uploaded, str(uploaded))


def main():
    env = environment()
    test = Test()
    clients = {region: client(env, region) for region in REGIONS}
    for region, s3 in clients.items():
        create_bucket(s3, org_code.bucket_name(PREFIX, region), region)
    # A bucket of the right name in the wrong region: Lambda in ap-south-1 could not read it.
    create_bucket(clients["us-east-1"], org_code.bucket_name(PREFIX, "ap-south-1"), "us-east-1")
    both = " ".join(REGIONS)

    with tempfile.TemporaryDirectory() as tmp:
        dist = pathlib.Path(tmp) / "lambda"
        bodies = write_dist(dist, [1000 + 137 * i for i in range(len(BINARIES))])

        incomplete = pathlib.Path(tmp) / "incomplete"
        write_dist(incomplete, [10] * len(BINARIES))
        (incomplete / BINARIES[-1] / "bootstrap.zip").unlink()
        refused(test, env, clients, "a zip missing", incomplete, both, "t1",
                f"no zip at {incomplete / BINARIES[-1] / 'bootstrap.zip'}")
        refused(test, env, clients, "a version with a slash", dist, both, "t1/../t2", "code version 't1/../t2'")
        refused(test, env, clients, "a version with a space", dist, both, "t 1", "code version 't 1'")
        refused(test, env, clients, "a malformed region", dist, "us-east-1 EU_WEST_1", "t1",
                "malformed region name(s): EU_WEST_1")
        refused(test, env, clients, "a region without its bucket", dist, "us-east-1 us-west-2", "t1",
                f"no bucket {PREFIX}-us-west-2")
        refused(test, env, clients, "a bucket in another region", dist, "us-east-1 ap-south-1", "t1",
                f"bucket {PREFIX}-ap-south-1 is in us-east-1, not ap-south-1")

        result = publish(env, dist, both, "t1")
        test.expect("publish: succeeds", result.returncode == 0, result.stdout + result.stderr)
        expected = {f"rds-responder/t1/{b}.zip": len(body) for b, body in bodies.items()}
        found = keys(clients)
        for region in REGIONS:
            bucket = org_code.bucket_name(PREFIX, region)
            test.expect(f"publish: the keys and sizes in {bucket}", found.get(bucket) == expected,
                        f"{found.get(bucket)} != {expected}")
            for binary, body in bodies.items():
                key = f"rds-responder/t1/{binary}.zip"
                sha256 = hashlib.sha256(body).hexdigest()
                line = f"uploaded s3://{bucket}/{key} {len(body)} bytes sha256 {sha256}"
                test.expect(f"publish: prints {key} in {region}", line in result.stdout.splitlines(), result.stdout)
                got = clients[region].get_object(Bucket=bucket, Key=key)["Body"].read()
                test.expect(f"publish: {key} in {region} holds the zip", got == body)

        again = publish(env, dist, both, "t1")
        test.expect("the same build again: succeeds", again.returncode == 0, again.stdout + again.stderr)
        test.expect("the same build again: uploads nothing", "uploaded" not in again.stdout, again.stdout)
        test.expect("the same build again: says unchanged",
                    again.stdout.count("unchanged ") == len(BINARIES) * len(REGIONS), again.stdout)

        rebuilt = pathlib.Path(tmp) / "rebuilt"
        write_dist(rebuilt, [1000 + 137 * i for i in range(len(BINARIES))])
        other = publish(env, rebuilt, both, "t1")
        test.expect("other bytes under a published version: refused", other.returncode != 0, other.stdout)
        test.expect("other bytes under a published version: says why",
                    "version t1 is already published with other bytes" in other.stderr, other.stderr)
        test.expect("other bytes under a published version: the published zips kept",
                    keys(clients) == found and all(
                        clients[r].get_object(Bucket=org_code.bucket_name(PREFIX, r),
                                              Key=f"rds-responder/t1/{b}.zip")["Body"].read() == body
                        for r in REGIONS for b, body in bodies.items()))

    if test.failures:
        for failure in test.failures:
            print(f"test-org-publish: FAILED {failure}")
        print(f"test-org-publish: {test.passed} passed, {len(test.failures)} failed")
        sys.exit(1)
    print(f"test-org-publish: {test.passed} passed, 0 failed")


if __name__ == "__main__":
    main()
