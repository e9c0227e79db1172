#!/usr/bin/env python3
"""Queue contents for the probe tests, produced by the real rq and celery libraries the way
Redash produces them, plus two misbehaving servers for the failure tests.

Every command prints one JSON line with what the test needs to know (ids, enqueue times).
"""
import argparse
import json
import socket
import sys
import time
from datetime import timezone


def sleep_job(seconds):
    """The job RQ workers run: a query that takes `seconds`."""
    time.sleep(seconds)
    return seconds


def epoch(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def rq_enqueue(args):
    from redis import Redis
    from rq import Queue

    queue = Queue(args.queue, connection=Redis.from_url(args.url))
    jobs = [queue.enqueue("redash_queues.sleep_job", args.seconds, job_timeout=args.timeout)
            for _ in range(args.count)]
    print(json.dumps({"ids": [job.id for job in jobs], "enqueued_at": [epoch(job.enqueued_at) for job in jobs]}))


def rq_worker(args):
    from redis import Redis
    from rq import Queue
    from rq.worker import HerokuWorker  # Redash's workers subclass HerokuWorker

    connection = Redis.from_url(args.url)
    queues = [Queue(name, connection=connection) for name in args.queues.split(",")]
    worker = HerokuWorker(queues, connection=connection, name=args.name, job_monitoring_interval=5)
    print(json.dumps({"worker": worker.key}), flush=True)
    worker.work()


def celery_app(url):
    """Redash v8's Celery app as far as the queues see it: JSON only, a prefetch of one, and
    execute_query under Redash's task name (here it sleeps for metadata["sleep"] seconds)."""
    from celery import Celery

    app = Celery("redash", broker=url)
    app.conf.update(worker_prefetch_multiplier=1, accept_content=["json"], task_serializer="json",
                    result_serializer="json", worker_hijack_root_logger=False)

    @app.task(name="redash.tasks.execute_query", bind=True)
    def execute_query(task, query, data_source_id, metadata, user_id=None, scheduled_query_id=None, is_api_key=False):
        # The truth the probe is checked against: which node runs which task from which queue.
        from redis import Redis
        truth = Redis.from_url(url)
        where = "%s|%s" % (task.request.hostname, (task.request.delivery_info or {}).get("routing_key"))
        truth.hset("truth:running", task.request.id, where)
        time.sleep(float((metadata or {}).get("sleep", 0)))
        truth.hdel("truth:running", task.request.id)
        return 1

    return app


def celery_worker(args):
    """A Celery worker node as Redash v8 starts one (`celery worker -c N -Q queues -Ofair`),
    named `celery@<host>`; Celery 4 or 5, whichever this Python has."""
    import celery

    app = celery_app(args.url)
    print(json.dumps({"node": "celery@" + args.host, "celery": celery.__version__}), flush=True)
    app.worker_main(["worker", "-n", "celery@" + args.host, "-Q", args.queues, "-c", str(args.concurrency),
                     "-O", "fair", "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"])


def celery_send(args):
    app = celery_app(args.url)
    times, ids = [], []
    for index in range(args.count):
        now = time.time() if args.enqueue_time is None else args.enqueue_time
        options = {"queue": args.queue}
        if args.priority is not None:
            options["priority"] = args.priority
        if not args.no_argsrepr:
            # What Redash v8's enqueue_query puts in the message headers.
            options["argsrepr"] = json.dumps({"org_id": 1, "data_source_id": 1, "enqueue_time": now,
                                              "scheduled": False, "query_id": index, "user_id": 1})
        metadata = {"sleep": args.sleep} if args.sleep else {}
        result = app.send_task("redash.tasks.execute_query", args=("SELECT 1", 1, metadata, 1, None, False), **options)
        ids.append(result.id)
        times.append(now)
        time.sleep(0.01)
    print(json.dumps({"enqueue_time": times, "ids": ids}))


def celery_prefetch(args):
    """Takes one message the way a prefetching worker does, and holds it without acknowledging."""
    from kombu import Connection

    with Connection(args.url) as connection:
        queue = connection.SimpleQueue(args.queue)
        message = queue.get(block=True, timeout=10)
        print(json.dumps({"delivery_tag": str(message.delivery_tag)}), flush=True)
        time.sleep(args.hold)


def listen(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen()
    print(json.dumps({"ready": port}), flush=True)
    return server


def half_reply_server(args):
    """Answers the first command with half a reply, then hangs up."""
    server = listen(args.port)
    while True:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.sendall(b"*3\r\n:1\r\n$5\r\nhel")
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("rq-enqueue")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("count", type=int)
    command.add_argument("--seconds", type=float, default=60); command.add_argument("--timeout", type=int, default=600)
    command.set_defaults(run=rq_enqueue)
    command = commands.add_parser("rq-worker")
    command.add_argument("url"); command.add_argument("queues"); command.add_argument("name")
    command.set_defaults(run=rq_worker)
    command = commands.add_parser("celery-send")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("count", type=int)
    command.add_argument("--priority", type=int); command.add_argument("--no-argsrepr", action="store_true")
    command.add_argument("--enqueue-time", type=float, help="the enqueue_time to write instead of now (a garbled one, say)")
    command.add_argument("--sleep", type=float, default=0, help="how long the task runs on a worker")
    command.set_defaults(run=celery_send)
    command = commands.add_parser("celery-worker")
    command.add_argument("url"); command.add_argument("queues"); command.add_argument("host")
    command.add_argument("--concurrency", type=int, default=2)
    command.set_defaults(run=celery_worker)
    command = commands.add_parser("celery-prefetch")
    command.add_argument("url"); command.add_argument("queue"); command.add_argument("--hold", type=float, default=60)
    command.set_defaults(run=celery_prefetch)
    for name, function in (("half-reply-server", half_reply_server),):
        command = commands.add_parser(name)
        command.add_argument("port", type=int)
        command.set_defaults(run=function)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
