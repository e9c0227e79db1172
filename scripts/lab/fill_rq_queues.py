#!/usr/bin/env python3
"""Fills a Redis with RQ-shaped queues for the probe benchmark: N queues named bench-0..N-1,
job ids in rq:queue:<name>, a job hash with enqueued_at for each queue's head (the only one the
probe reads), two registered workers per queue (one busy with a live started-registry entry).

Bulk keys are written with pipelines rather than rq.enqueue, which would take minutes for a
million jobs; the keys and field formats are the ones RQ 1.16 writes.
"""
import sys
import time
from datetime import datetime, timezone

from redis import Redis

url, queues, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
redis = Redis.from_url(url)
per_queue = jobs // queues
now = datetime.now(timezone.utc)
stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
for queue in range(queues):
    name = f"bench-{queue}"
    pipe = redis.pipeline(transaction=False)
    for start in range(0, per_queue, 10000):
        pipe.rpush(f"rq:queue:{name}", *[f"{name}-job-{i}" for i in range(start, min(per_queue, start + 10000))])
    pipe.sadd("rq:queues", f"rq:queue:{name}")
    pipe.hset(f"rq:job:{name}-job-0", mapping={"enqueued_at": stamp, "origin": name, "status": "queued"})
    for worker in range(2):
        key = f"rq:worker:{name}-w{worker}"
        busy = worker == 0
        pipe.sadd(f"rq:workers:{name}", key)
        pipe.hset(key, mapping={"state": "busy" if busy else "idle", "current_job": f"{name}-running" if busy else "",
                                "hostname": f"ip-10-0-{queue % 250}-{worker}.ec2.internal", "ip_address": f"10.0.{queue % 250}.{worker}:50000",
                                "last_heartbeat": stamp})
        if busy:
            pipe.zadd(f"rq:wip:{name}", {f"{name}-running": time.time() + 65})
    pipe.execute()
print(f"filled {queues} queues, {per_queue * queues} jobs")
