#!/usr/bin/env python3
"""Random requests signed by botocore's SigV4 signer at a fixed time, one JSON object per line,
for the differential test of our signer. Usage: sigv4_vectors.py COUNT SEED
"""
import base64
import datetime
import json
import random
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2026, 11, 23, 9, 30, 15)
botocore.auth.get_current_datetime = lambda: FIXED  # sign at a fixed time

PATH_CHARS = "abcXYZ019-_.~!$&'()*+,;=:@ é/"
QUERY_CHARS = "abcXYZ019-_.~!$&'()*+,;=:@/?%# é日本"
HEADER_NAMES = ["Content-Type", "X-Amz-Target", "X-Custom-Header", "x-amz-meta-Owner", "Accept", "User-Agent", "X-Amzn-Trace-Id"]


def text(rng, chars, low, high):
    return "".join(rng.choice(chars) for _ in range(rng.randint(low, high)))


def header_value(rng):
    # Odd spacing: leading, trailing and repeated spaces and tabs.
    words = [text(rng, "abcdefXYZ0123/;=.", 1, 8) for _ in range(rng.randint(1, 4))]
    separators = [rng.choice([" ", "  ", "\t", " \t "]) for _ in words]
    value = "".join(w + s for w, s in zip(words, separators))
    return rng.choice(["", " ", "  "]) + value


def vector(rng, index):
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "HEAD", "post"])
    scheme = rng.choice(["https", "https", "http"])
    host = rng.choice(["ecs.ap-northeast-1.amazonaws.com", "ECS.us-east-1.AmazonAWS.com", "127.0.0.1", "localhost"])
    port = rng.choice([None, None, 443, 80, 5000])
    path = "/" + text(rng, PATH_CHARS, 0, 20)
    query = [(text(rng, QUERY_CHARS, 1, 8), text(rng, QUERY_CHARS, 0, 10)) for _ in range(rng.randint(0, 4))]
    if query and rng.random() < 0.3:
        query.append((query[0][0], text(rng, QUERY_CHARS, 0, 5)))  # a repeated name
    headers = []
    for name in rng.sample(HEADER_NAMES, rng.randint(0, 4)):
        headers.append((name, header_value(rng)))
    body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 1, 37, 512])))
    token = rng.choice([None, "IQoJb3JpZ2luX2VjEXAMPLE" + text(rng, "abcXYZ019+/=", 10, 40)])
    access, secret = "AKIA" + text(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16), text(rng, "abcXYZ019+/", 40, 40)
    region = rng.choice(["us-east-1", "ap-northeast-1", "eu-west-1"])
    service = rng.choice(["ecs", "sts", "application-autoscaling"])

    netloc = host + (f":{port}" if port else "")
    request = AWSRequest(method=method, url=f"{scheme}://{netloc}{path}", data=body, params=query)
    for name, value in headers:
        request.headers[name] = value  # botocore keeps one value per name
    botocore.auth.SigV4Auth(Credentials(access, secret, token), service, region).add_auth(request)
    return {
        "method": method, "scheme": scheme, "host": host, "port": port, "path": path,
        "query": query, "headers": [[k, v] for k, v in request.headers.items() if k in dict(headers)],
        "body": base64.b64encode(body).decode(), "accessKey": access, "secret": secret, "token": token,
        "region": region, "service": service, "time": FIXED.replace(tzinfo=datetime.timezone.utc).timestamp(),
        "authorization": request.headers["Authorization"], "amzDate": request.headers["X-Amz-Date"],
    }


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for index in range(count):
        print(json.dumps(vector(rng, index), ensure_ascii=False))


if __name__ == "__main__":
    main()
