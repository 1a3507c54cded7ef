#!/usr/bin/python3
# tests/runtime/kv_client.py — a key-value client for the cluster tests: a
# write load that records every acknowledged write, and a checker that
# reads each acknowledged key back (linearizable GET) from every node.
#
# Owner: tests/runtime/cluster_test.sh. Runs on Debian's /usr/bin/python3
# with the standard library only.
#
#   kv_client.py load --endpoints URL[,URL...] --seconds S --threads T
#                     --prefix P --acked FILE [--stop-file F]
#       Each thread writes unique keys P-<thread>-<n> with value
#       v-<thread>-<n>, round-robin over the endpoints; a 200 is an
#       acknowledgement and is appended to FILE ("key value" per line)
#       immediately. Stops after S seconds or when F exists. Prints
#       "acked N failed M".
#   kv_client.py verify --endpoints URL[,URL...] --acked FILE
#       Every acknowledged key must read back with its value from every
#       endpoint (retrying while a node catches up). Exit 1 on a loss.
import argparse
import http.client
import os
import sys
import threading
import time
import urllib.parse


def request(endpoint, method, path, body=None, timeout=15):
    u = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def load(args):
    endpoints = args.endpoints.split(",")
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    counts = {"acked": 0, "failed": 0}
    out = open(args.acked, "a", buffering=1)

    def worker(t):
        n = 0
        while time.monotonic() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
            key = "%s-%d-%d" % (args.prefix, t, n)
            value = "v-%d-%d" % (t, n)
            endpoint = endpoints[(t + n) % len(endpoints)]
            n += 1
            try:
                status, _ = request(endpoint, "PUT", "/v1/kv/" + key, value.encode())
            except Exception:
                status = 0
            with lock:
                if status == 200:
                    counts["acked"] += 1
                    out.write("%s %s\n" % (key, value))
                else:
                    counts["failed"] += 1
            if status != 200:
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.close()
    print("acked %d failed %d" % (counts["acked"], counts["failed"]))


def verify(args):
    endpoints = args.endpoints.split(",")
    acked = []
    with open(args.acked) as f:
        for line in f:
            key, value = line.split()
            acked.append((key, value))
    if not acked:
        print("verify: no acknowledged writes to check")
        return 1
    lost = 0
    for endpoint in endpoints:
        for key, value in acked:
            got = None
            for _ in range(60):
                try:
                    status, body = request(endpoint, "GET", "/v1/kv/" + key)
                except Exception:
                    status, body = 0, b""
                if status == 200:
                    got = body.decode()
                    break
                if status == 404:
                    got = "<absent>"
                    break
                time.sleep(0.25)
            if got != value:
                lost += 1
                if lost <= 10:
                    print("LOST: %s on %s: expected %s, read %s" % (key, endpoint, value, got))
    print("verify: %d acknowledged keys x %d nodes, %d lost or wrong" % (len(acked), len(endpoints), lost))
    return 1 if lost else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load")
    lp.add_argument("--endpoints", required=True)
    lp.add_argument("--seconds", type=float, required=True)
    lp.add_argument("--threads", type=int, default=4)
    lp.add_argument("--prefix", default="k")
    lp.add_argument("--acked", required=True)
    lp.add_argument("--stop-file")
    vp = sub.add_parser("verify")
    vp.add_argument("--endpoints", required=True)
    vp.add_argument("--acked", required=True)
    args = p.parse_args()
    if args.cmd == "load":
        load(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
