#!/usr/bin/env python3
"""The per-byte work every Spindle download must do, and nothing else: a reference row
for the download benchmark, not a peer.

    hash-floor.py URL_LIST OUT_DIR

GETs every URL of URL_LIST (one per line) over keep-alive HTTP/1.1 with one thread per
file (at most 16), reads each body 1 MiB at a time, feeds it to SHA-256 (hashlib: OpenSSL,
which releases the GIL on large buffers) and writes it to OUT_DIR/<last path segment>.
No retries, names, temporary files, checks or progress: what is left is reading the
socket, hashing and writing the file, the floor under anything that verifies what it
downloads (Spindle reports every file's SHA-256; curl and aria2c do not hash).
"""
import hashlib
import http.client
import os
import queue
import sys
import threading
import urllib.parse

READ_BYTES = 1 << 20


def worker(jobs: "queue.Queue[str]", out_dir: str, failures: list) -> None:
    conns: dict = {}
    buf = bytearray(READ_BYTES)
    view = memoryview(buf)
    while True:
        try:
            url = jobs.get_nowait()
        except queue.Empty:
            break
        try:
            fetch(url, conns, out_dir, buf, view)
        except Exception as e:  # noqa: BLE001 - reported, and the run fails
            failures.append(f"{url}: {e}")


def fetch(url: str, conns: dict, out_dir: str, buf: bytearray, view: memoryview) -> None:
    u = urllib.parse.urlsplit(url)
    key = (u.hostname, u.port)
    conn = conns.get(key) or conns.setdefault(key, http.client.HTTPConnection(u.hostname, u.port))
    conn.request("GET", u.path or "/")
    res = conn.getresponse()
    if res.status != 200:
        res.read()
        raise RuntimeError(f"HTTP {res.status}")
    digest = hashlib.sha256()
    with open(os.path.join(out_dir, os.path.basename(u.path)), "wb", buffering=0) as f:
        while True:
            n = res.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
            f.write(view[:n])
    digest.hexdigest()


def main() -> int:
    url_list, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    jobs: "queue.Queue[str]" = queue.Queue()
    with open(url_list) as f:
        for line in f:
            if line.strip():
                jobs.put(line.strip())
    failures: list = []
    threads = [threading.Thread(target=worker, args=(jobs, out_dir, failures)) for _ in range(min(16, jobs.qsize()))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
