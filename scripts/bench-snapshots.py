#!/usr/bin/env python3
"""`make bench`, snapshots: snapshotter against moto, and side by side with Cloud Custodian.

1. Retention over 10,000 snapshots of 100 instances (a dry run): the time to reach the
   decisions and the requests it took (pages, no per-snapshot call).
2. The same work for both tools, each on its own fresh moto server, as whole processes:
   100 instances, 50 tagged; each tagged instance has 30 expired manual snapshots of ours
   (tagged CreatedBy=rds-responder), each untagged one 30 foreign ones that must survive.
   Work: snapshot the 50 tagged instances, delete the 1,500 expired snapshots. Measured: wall
   time, the tool's CPU time and peak RSS (wait4), requests moto served (its log) and moto's own
   CPU time over the run (/proc), which is the floor for wall time on this stand-in.

moto dates every snapshot now, so both tools run with their clock 40 days ahead (libfaketime):
every seeded snapshot is 40 days old to them. Figures are ratios within one run, since these
machines are noisy. Usage: bench-snapshots.py target/release/snapshotter
"""

import concurrent.futures
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# moto server with the one RDS operation snapshotter calls that moto lacks (its quotas).
MOTO = [os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "scripts", "moto-server.py")]
CUSTODIAN = os.path.join(ROOT, ".venv-bench", "bin", "custodian")
DAYS_AHEAD = 40
REGION = "us-east-1"
ACCOUNT = "123456789012"
TICKS = os.sysconf("SC_CLK_TCK")
REQUEST_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) ')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faketime_env():
    libs = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
    if not libs:
        sys.exit("libfaketime is missing: scripts/bootstrap.sh installs it")
    return {
        "LD_PRELOAD": libs[0],
        "FAKETIME": f"+{DAYS_AHEAD}d",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_RESET": "1",
    }


class Moto:
    """A fresh moto server: its CPU time and the requests it served, read around a run."""

    def __init__(self, workdir, name):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, f"moto-{name}.log")
        env = dict(os.environ, MOTO_RDS_SNAPSHOT_LIMIT="200000")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [*MOTO, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("moto server did not start")

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def requests(self):
        self.log.flush()
        with open(self.log_path) as f:
            return sum(1 for line in f if REQUEST_LINE.search(line))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()

    def client(self, service):
        return boto3.client(
            service, region_name=REGION, endpoint_url=self.endpoint,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )


def parallel(jobs, fn):
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(fn, jobs))


def seed(moto, instances, tagged, ours_each, foreign_each):
    rds = moto.client("rds")

    def instance(i):
        tags = [{"Key": "rr-bench", "Value": "true"}] if i < tagged else []
        rds.create_db_instance(
            DBInstanceIdentifier=f"bench-{i:03d}", Engine="postgres", DBInstanceClass="db.t3.micro",
            AllocatedStorage=20, MasterUsername="admin_user", MasterUserPassword="not-used-locally",
            Tags=tags,
        )

    parallel(range(instances), instance)

    def snapshots(i):
        db = f"bench-{i:03d}"
        if i < tagged:
            for j in range(ours_each):
                sid = f"{db}-rr-20261001-{j:06d}"
                rds.create_db_snapshot(
                    DBInstanceIdentifier=db, DBSnapshotIdentifier=sid,
                    Tags=[{"Key": "CreatedBy", "Value": "rds-responder"},
                          {"Key": "rds-responder:snapshot-id", "Value": sid}],
                )
        else:
            for j in range(foreign_each):
                rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=f"{db}-manual-{j:02d}")

    parallel(range(instances), snapshots)


def manual_snapshots(moto):
    rds = moto.client("rds")
    return {s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}


def seed_report_sinks(moto):
    moto.client("dynamodb").create_table(
        TableName="ledger", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    topic = moto.client("sns").create_topic(Name="reports")["TopicArn"]
    moto.client("s3").create_bucket(Bucket="reports")
    return topic


def peak_rss_mb(pid):
    """The process's own high-water mark (VmHWM). Not wait4's ru_maxrss: on Linux a child's
    ru_maxrss starts from the RSS of the process that spawned it (this one, with boto3 loaded)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(cmd, env, done=None):
    """Runs `cmd` until it exits (or until `done` is set, then stops it): wall, user+sys, peak RSS."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errors = []
    threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True).start()
    peak = [0.0]
    finished = threading.Event()

    def watch():
        while not finished.is_set():
            peak[0] = max(peak[0], peak_rss_mb(proc.pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if done is not None:
        if not done.wait(600):
            proc.kill()
            sys.exit("the function did not answer within 600 s")
        wall = time.monotonic() - start
        peak[0] = max(peak[0], peak_rss_mb(proc.pid))
        proc.send_signal(signal.SIGKILL)
    _, status, usage = os.wait4(proc.pid, 0)
    finished.set()
    watcher.join()
    if done is None:
        wall = time.monotonic() - start
        if status != 0:
            sys.stderr.write(b"".join(errors).decode(errors="replace")[-3000:])
            sys.exit(f"{cmd[0]} failed ({status})")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": peak[0]}


class RuntimeApi:
    """The Lambda Runtime API for one invocation; later polls wait until the process is stopped."""

    def __init__(self, event):
        self.event = json.dumps(event).encode()
        self.answer = None
        self.done = threading.Event()
        self.served = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                if api.served:
                    time.sleep(3600)
                    return
                api.served = True
                deadline = datetime.now(timezone.utc) + timedelta(days=DAYS_AHEAD, seconds=900)
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(deadline.timestamp() * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:snapshotter")
                self.send_header("Content-Length", str(len(api.event)))
                self.end_headers()
                self.wfile.write(api.event)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(202)
                self.end_headers()
                api.answer = (self.path, json.loads(body or b"null"))
                api.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


def run_snapshotter(binary, moto, topic, event, extra_env):
    api = RuntimeApi(event)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "snapshotter",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.endpoint,
        "REPORT_TOPIC_ARN": topic,
        "REPORT_BUCKET": "reports",
        "LEDGER_TABLE": "ledger",
        "MAX_EVENT_AGE_SECONDS": "0",
        "OPT_IN_TAG": "rr-bench",
        "ALLOWED_SCHEDULES": "bench",
        "RUST_LOG": "warn",
        **faketime_env(),
        **extra_env,
    }
    figures = measure([binary], env, api.done)
    path, report = api.answer
    if not path.endswith("/response"):
        sys.exit(f"snapshotter answered with an error: {report}")
    return figures, report


def scheduled_event(**fields):
    at = (datetime.now(timezone.utc) + timedelta(days=DAYS_AHEAD)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "scheduler": {"schedule_arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/bench",
                      "scheduled_time": at},
        **fields,
    }


C7N_POLICY = """
policies:
  - name: delete-expired-snapshots
    resource: rds-snapshot
    filters:
      - type: age
        days: 35
        op: greater-than
      - "tag:CreatedBy": rds-responder
    actions:
      - delete
  - name: snapshot-tagged-instances
    resource: rds
    filters:
      - "tag:rr-bench": "true"
    actions:
      - snapshot
"""


def run_custodian(moto, workdir):
    policy = os.path.join(workdir, "policy.yml")
    with open(policy, "w") as f:
        f.write(C7N_POLICY)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": workdir,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.endpoint,
        **faketime_env(),
    }
    cmd = [CUSTODIAN, "run", "--cache-period", "0", "-s", os.path.join(workdir, "c7n-out"),
           "--region", REGION, policy]
    return measure(cmd, env)


def side_by_side(binary, workdir):
    rows = {}
    for tool in ("cloud-custodian", "snapshotter"):
        moto = Moto(workdir, tool)
        try:
            topic = seed_report_sinks(moto)
            seed(moto, instances=100, tagged=50, ours_each=30, foreign_each=30)
            before = manual_snapshots(moto)
            cpu0, req0 = moto.cpu(), moto.requests()
            if tool == "snapshotter":
                figures, report = run_snapshotter(binary, moto, topic, scheduled_event(), {
                    "RETENTION_KEEP_NEWEST": "1", "MAX_DELETES_PER_RUN": "10000", "CONCURRENCY": "4",
                })
                if report["status"] not in ("ok", "degraded"):
                    sys.exit(f"snapshotter run {report['status']}: {json.dumps(report)[:3000]}")
            else:
                figures = run_custodian(moto, workdir)
            figures["moto_cpu"] = moto.cpu() - cpu0
            figures["requests"] = moto.requests() - req0
            after = manual_snapshots(moto)
            figures["created"] = len(after - before)
            figures["deleted"] = len(before - after)
            figures["foreign_left"] = sum(1 for s in after if "-manual-" in s)
            rows[tool] = figures
        finally:
            moto.stop()
    return rows


def ten_thousand(binary, workdir):
    moto = Moto(workdir, "retention-10k")
    try:
        topic = seed_report_sinks(moto)
        seed(moto, instances=100, tagged=100, ours_each=100, foreign_each=0)
        cpu0, req0 = moto.cpu(), moto.requests()
        figures, report = run_snapshotter(binary, moto, topic, {"action": "retention"}, {
            "MAX_DELETES_PER_RUN": "10000",
        })
        figures["moto_cpu"] = moto.cpu() - cpu0
        figures["requests"] = moto.requests() - req0
        planned = sum(len(c.get("data", {}).get("delete", []))
                      for c in report["checks"] if c["name"].startswith("retention "))
        figures["planned"] = planned
        figures["handler_ms"] = report["duration_ms"]
        figures["left"] = len(manual_snapshots(moto))
        return figures
    finally:
        moto.stop()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/snapshotter")
    if not os.path.exists(CUSTODIAN):
        sys.exit(f"{CUSTODIAN} is missing: `make bench` installs Cloud Custodian (PyPI c7n) into .venv-bench")
    with tempfile.TemporaryDirectory() as workdir:
        big = ten_thousand(binary, workdir)
        print("\n== retention decisions over 10,000 snapshots of 100 instances (dry run) ==")
        print(f"planned deletes {big['planned']} (93 per instance: 100 less the newest 7), "
              f"snapshots left {big['left']} (a dry run deletes nothing)")
        print(f"handler {big['handler_ms']} ms; process wall {big['wall']:.2f} s, CPU {big['cpu']:.2f} s, "
              f"peak RSS {big['rss_mb']:.1f} MB; requests {big['requests']} "
              f"(moto serves each listing as one page; on RDS: 100 pages of 100), moto CPU {big['moto_cpu']:.2f} s")

        rows = side_by_side(binary, workdir)
        print("\n== the same work, one fresh moto per tool: snapshot 50 tagged instances, delete 1,500 expired ==")
        print(f"{'':18}{'wall s':>8}{'CPU s':>8}{'RSS MB':>8}{'requests':>10}{'moto CPU s':>12}"
              f"{'created':>9}{'deleted':>9}{'foreign left':>14}")
        for tool, r in rows.items():
            print(f"{tool:18}{r['wall']:8.2f}{r['cpu']:8.2f}{r['rss_mb']:8.1f}{r['requests']:10d}"
                  f"{r['moto_cpu']:12.2f}{r['created']:9d}{r['deleted']:9d}{r['foreign_left']:14d}")
        c, s = rows["cloud-custodian"], rows["snapshotter"]
        cpu = c['cpu'] / max(s['cpu'], 1e-3)
        rss = c['rss_mb'] / max(s['rss_mb'], 1e-3)
        wall = s['wall'] / max(s['moto_cpu'], 1e-3)
        verdict = lambda met: "met" if met else "MISSED"
        print(f"ratios: client CPU {cpu:.1f}x less (target 20x: {verdict(cpu >= 20)}), "
              f"peak RSS {rss:.1f}x less (target 10x: {verdict(rss >= 10)}), "
              f"snapshotter wall / its moto CPU {wall:.2f} (target <= 1.2: {verdict(wall <= 1.2)}), "
              f"Cloud Custodian wall / its moto CPU {c['wall'] / max(c['moto_cpu'], 1e-3):.2f}")


if __name__ == "__main__":
    main()
