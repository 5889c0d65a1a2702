"""The reference: an S3 backend written the way a Python user writes one
today with boto3, one request at a time. Measures the same operations as
benches/s3.rs on the same server and prints their timings as JSON.

Usage: python boto3_s3.py ENDPOINT BUCKET CORPUS_PREFIX WRITES_PREFIX ROUNDS
"""
import fnmatch
import json
import sys
import time

import boto3


class Boto3Backend:
    def __init__(self, endpoint, bucket, prefix):
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing-access-key",
            aws_secret_access_key="testing-secret-key-never-shown",
        )
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/"

    def _keys(self):
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"]

    def glob(self, pattern):
        out = []
        for key in self._keys():
            rel = key[len(self.prefix):]
            if fnmatch.fnmatch(rel, pattern):
                out.append("/" + rel)
        return sorted(out)

    def grep(self, needle):
        matches = []
        for key in sorted(self._keys()):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            if b"\0" in body[:8192]:
                continue
            text = body.decode("utf-8", errors="replace")
            for n, line in enumerate(text.splitlines(), 1):
                if needle in line:
                    matches.append(("/" + key[len(self.prefix):], n, line))
        return matches

    def write(self, path, content):
        self.s3.put_object(Bucket=self.bucket, Key=self.prefix + path.lstrip("/"), Body=content)


def timed(f):
    start = time.perf_counter()
    result = f()
    return time.perf_counter() - start, result


def main():
    endpoint, bucket, corpus, writes, rounds = sys.argv[1:6]
    rounds = int(rounds)
    backend = Boto3Backend(endpoint, bucket, corpus)
    out = {"glob": [], "grep": [], "writes": []}
    for r in range(rounds):
        t, files = timed(lambda: backend.glob("*.txt"))
        out["glob"].append(t)
        out["glob_count"] = len(files)
        t, hits = timed(lambda: backend.grep("needle"))
        out["grep"].append(t)
        out["grep_count"] = len(hits)
        w = Boto3Backend(endpoint, bucket, f"{writes}-{r}")
        t, _ = timed(lambda: [w.write(f"/w/{i:04}.txt", f"small write {i}\n".encode()) for i in range(500)])
        out["writes"].append(t)
    print(json.dumps(out))


main()
