#!/usr/bin/env python3
"""moto server, plus the one RDS operation the functions call that moto 5.2 lacks, answered in
RDS's own protocol (moto serializes it from the botocore model) from moto's own state:

- DescribeAccountAttributes: the manual snapshot quotas snapshotter reads before creating
  (`ManualSnapshots`, `ManualClusterSnapshots`: used = the manual snapshots moto holds, max =
  moto's own snapshot limit, MOTO_RDS_SNAPSHOT_LIMIT). Without it every snapshotter run spends
  its SDK's three attempts and their back-off (about 2 s) on an error AWS never gives.

    scripts/moto-server.py -H 127.0.0.1 -p PORT     (moto_server's own arguments)
"""
from moto import server
from moto.core.responses import ActionResult
from moto.rds.responses import RDSResponse


def describe_account_attributes(self):
    backend = self.backend
    manual = lambda snapshots: sum(1 for s in snapshots.values() if s.snapshot_type == "manual")
    quotas = [
        ("ManualSnapshots", manual(backend.database_snapshots)),
        ("ManualClusterSnapshots", manual(backend.cluster_snapshots)),
    ]
    return ActionResult({
        "AccountQuotas": [
            {"AccountQuotaName": name, "Used": used, "Max": backend.SNAPSHOT_QUOTA}
            for name, used in quotas
        ]
    })


if not hasattr(RDSResponse, "describe_account_attributes"):
    RDSResponse.describe_account_attributes = describe_account_attributes

if __name__ == "__main__":
    server.main()
