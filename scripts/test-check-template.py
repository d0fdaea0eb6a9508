#!/usr/bin/env python3
"""The template checks can fail: each broken variant of template.yaml must be refused, naming why.

Run by `make lint` after the check passes on the real template.
"""
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = (HERE.parent / "template.yaml").read_text()

# (what is broken, text replaced, replacement, words the refusal must contain)
VARIANTS = [
    ("tagging a database",
     "Action: rds:AddTagsToResource\n              Resource:\n",
     "Action: rds:AddTagsToResource\n              Resource:\n                - !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:db:*\n",
     "tagging only on its own new snapshots"),
    ("tagging by a wildcard action on any snapshot",
     "Action: rds:AddTagsToResource\n              Resource:\n",
     "Action: \"rds:Add*\"\n              Resource:\n                - !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:snapshot:*\n",
     "tagging only on its own new snapshots"),
    ("tagging with any key",
     "ForAllValues:StringEquals: { \"aws:TagKeys\"",
     "ForAnyValue:StringEquals: { \"aws:TagKeys\"",
     "limit aws:TagKeys"),
    ("deleting untagged snapshots",
     "StringEquals: { \"rds:snapshot-tag/CreatedBy\": rds-responder }",
     "StringEquals: { \"rds:snapshot-tag/Owner\": rds-responder }",
     "not tagged CreatedBy=rds-responder"),
]


def main():
    failures = 0
    for what, old, new, words in VARIANTS:
        if old not in TEMPLATE:
            print(f"test-check-template: {what}: the template no longer has {old!r}")
            failures += 1
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as broken:
            broken.write(TEMPLATE.replace(old, new, 1))
        run = subprocess.run(
            [sys.executable, str(HERE / "check-template.py"), broken.name],
            capture_output=True, text=True,
        )
        pathlib.Path(broken.name).unlink()
        if run.returncode == 0 or words not in run.stdout:
            print(f"test-check-template: {what}: not refused as expected: {run.stdout.strip()}")
            failures += 1
    if failures:
        sys.exit(1)
    print(f"test-check-template: {len(VARIANTS)} broken templates refused")


if __name__ == "__main__":
    main()
