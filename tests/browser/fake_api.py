"""TEMPORARY: a tiny stand-in for the jobs API, for iterating on the console before the real
local stack exists. Real moto server for S3 (so CORS and presigned URLs are real); the API
itself is faked. Run: python tests/browser/fake_api.py PORT"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "1024")
import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from anemonefish_services.console import STATIC_DIR  # noqa: E402

PART = 1024 * 1024
THRESHOLD = 2 * PART
JOBS: dict[str, dict] = {}


def main(port: int) -> None:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port + 1)
    moto.start()
    endpoint = f"http://127.0.0.1:{port + 1}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x",
                      config=boto3.session.Config(signature_version="s3v4"))
    for b in ("fake-in", "fake-out"):
        s3.create_bucket(Bucket=b)
        s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]})

    def finish(job_id: str) -> None:
        job = JOBS[job_id]
        for f in range(1, 11):
            time.sleep(0.2)
            job["status"], job["progress"] = "RUNNING", {"fraction": f / 10}
        doc = {"job_id": job_id, "audio": {"filename": job["filename"], "duration_s": 120.0, "sample_rate": 48000, "channels": 1},
               "events": [{"start": 4.4 + 9 * i, "end": 5.1 + 9 * i, "label": "anemonefish", "confidence": 0.8} for i in range(12)],
               "processing_time_s": 1.2, "model": {"name": "fake", "version": "0"}}
        s3.put_object(Bucket="fake-out", Key=f"{job_id}/events.json", Body=json.dumps(doc).encode())
        link = s3.generate_presigned_url("get_object", Params={"Bucket": "fake-out", "Key": f"{job_id}/events.json"})
        job.update(status="SUCCEEDED", progress=None, result={"events_count": 12, "audio_duration_s": 120.0,
                   "processing_time_s": 1.2, "links": {k: link for k in ("json", "csv", "raven", "audacity")}})

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(STATIC_DIR), **kw)

        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> dict:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def api(self, method: str) -> bool:
            path = urlparse(self.path).path.strip("/").split("/")
            if path[0] != "jobs":
                return False
            if self.headers.get("x-api-key") != "good-key":
                self.reply(403, {"error": {"code": "forbidden", "message": "invalid API key"}})
                return True
            if method == "GET" and len(path) == 1:
                self.reply(200, {"jobs": list(JOBS.values())})
            elif method == "POST" and len(path) == 1:
                req = self.body()
                if req["size_bytes"] > 50 * PART:
                    self.reply(400, {"error": {"code": "invalid_request", "message": "size_bytes exceeds the limit", "details": {"field": "size_bytes"}}})
                    return True
                job_id = str(uuid.uuid4())
                key = f"uploads/{job_id}/f.wav"
                job = {"job_id": job_id, "status": "AWAITING_UPLOAD", "filename": req["filename"], "size_bytes": req["size_bytes"], "key": key}
                if req["size_bytes"] > THRESHOLD:
                    uid = s3.create_multipart_upload(Bucket="fake-in", Key=key)["UploadId"]
                    count = -(-req["size_bytes"] // PART)
                    job.update(upload_id=uid, part_count=count)
                    upload = {"method": "MULTIPART", "upload_id": uid, "part_size": PART, "part_count": count,
                              "parts": [{"part_number": n, "url": s3.generate_presigned_url("upload_part", Params={"Bucket": "fake-in", "Key": key, "UploadId": uid, "PartNumber": n})} for n in range(1, min(count, 2) + 1)],
                              "expires_at": "2099-01-01T00:00:00Z"}
                else:
                    upload = {"method": "PUT", "url": s3.generate_presigned_url("put_object", Params={"Bucket": "fake-in", "Key": key}), "headers": {}, "expires_at": "2099-01-01T00:00:00Z"}
                JOBS[job_id] = job
                self.reply(201, {"job_id": job_id, "status": "AWAITING_UPLOAD", "upload": upload})
                if upload["method"] == "PUT":
                    threading.Timer(1.0, finish, args=(job_id,)).start()
            elif len(path) >= 2 and path[1] in JOBS:
                job = JOBS[path[1]]
                if len(path) == 2 and method == "GET":
                    self.reply(200, {k: v for k, v in job.items() if k not in ("key",)})
                elif len(path) == 2 and method == "DELETE":
                    job["status"] = "CANCELLED"
                    self.reply(200, {"job_id": job["job_id"], "status": "CANCELLED"})
                elif path[2:] == ["upload", "parts"] and method == "POST":
                    nums = self.body()["part_numbers"]
                    self.reply(200, {"parts": [{"part_number": n, "url": s3.generate_presigned_url("upload_part", Params={"Bucket": "fake-in", "Key": job["key"], "UploadId": job["upload_id"], "PartNumber": n})} for n in nums], "expires_at": "2099-01-01T00:00:00Z"})
                elif path[2:] == ["upload", "parts"] and method == "GET":
                    parts = s3.list_parts(Bucket="fake-in", Key=job["key"], UploadId=job["upload_id"]).get("Parts", [])
                    self.reply(200, {"parts": [{"part_number": p["PartNumber"], "etag": p["ETag"], "size": p["Size"]} for p in parts]})
                elif path[2:] == ["upload", "complete"] and method == "POST":
                    parts = self.body()["parts"]
                    s3.complete_multipart_upload(Bucket="fake-in", Key=job["key"], UploadId=job["upload_id"], MultipartUpload={"Parts": [{"PartNumber": p["part_number"], "ETag": p["etag"]} for p in parts]})
                    job["status"] = "QUEUED"
                    threading.Timer(0.5, finish, args=(job["job_id"],)).start()
                    self.reply(202, {"job_id": job["job_id"], "status": "QUEUED"})
                else:
                    self.reply(404, {"error": {"code": "not_found", "message": "no route"}})
            else:
                self.reply(404, {"error": {"code": "job_not_found", "message": "no such job"}})
            return True

        def do_GET(self):  # noqa: N802
            if not self.api("GET"):
                super().do_GET()

        def do_POST(self):  # noqa: N802
            self.api("POST")

        def do_DELETE(self):  # noqa: N802
            self.api("DELETE")

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
