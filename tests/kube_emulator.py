"""An emulated Kubernetes API server (kmock) on 127.0.0.1, run as its own process for the test set-up.

    python -m tests.kube_emulator --port 0 --kubeconfig var/test/kubeconfig

kmock keeps objects in memory and serves the official client for create/read/list/patch/delete, the scale and
status subresources, 404 and 409. It runs no controllers: tests play the scheduler and the kubelet by creating pods
and writing their status through the same API. What kmock lacks is filled in here, and only here:
- namespaces (kmock cannot parse the cluster-scoped /api/v1/namespaces path): kept in a dict;
- a pod's log: the text of its `emulator/log` annotation (what the container "printed");
- /version/, which the official client asks with a trailing slash.
Every request is also written, one line each (method, path, query, user agent), to `requests.log` beside the
kubeconfig, so a test can compare what the portal asks for with the RBAC rules it ships.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import secrets
import signal
from pathlib import Path

import aiohttp.web
import kmock

NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)$")
LOG_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


def _status(code: int, reason: str, message: str):
    body = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason}
    return aiohttp.web.json_response({**body, "message": message}, status=code)


class Emulator(kmock.KubernetesEmulator):
    namespaces: dict  # set after construction (attrs classes take no new fields here)
    request_log: Path | None

    async def __call__(self, raw_request):
        path, method = raw_request.path, raw_request.method
        if self.request_log is not None:
            agent = raw_request.headers.get("User-Agent", "").replace("\t", " ")
            with self.request_log.open("a") as log:
                log.write(f"{method}\t{path}\t{raw_request.query_string}\t{agent}\n")
        if path == "/api/v1/namespaces" and method == "POST":
            body = json.loads(await raw_request.read())
            name = body.get("metadata", {}).get("name", "")
            if name in self.namespaces:
                return _status(409, "AlreadyExists", f'namespaces "{name}" already exists')
            self.namespaces[name] = body
            return aiohttp.web.json_response(body, status=201)
        if path == "/api/v1/namespaces" and method == "GET":
            return aiohttp.web.json_response({"kind": "NamespaceList", "items": list(self.namespaces.values())})
        if (match := NAMESPACE_PATH.match(path)) and method == "GET":
            if match[1] not in self.namespaces:
                return _status(404, "NotFound", f'namespaces "{match[1]}" not found')
            return aiohttp.web.json_response(self.namespaces[match[1]])
        if (match := LOG_PATH.match(path)) and method == "GET":
            for key, obj in self.objects.items():
                if key[0].plural == "pods" and key[1] == match[1] and key[2] == match[2] and not obj.deleted:
                    text = (obj.raw.get("metadata", {}).get("annotations") or {}).get("emulator/log", "")
                    tail = raw_request.query.get("tailLines")
                    if tail:
                        text = "".join(text.splitlines(keepends=True)[-int(tail) :])
                    return aiohttp.web.Response(text=text, content_type="text/plain")
            return _status(404, "NotFound", f'pods "{match[2]}" not found')
        if path.rstrip("/") == "/version":
            version = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-kmock", "gitCommit": "kmock"}
            version |= {"gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24"}
            version |= {"compiler": "gc", "platform": "linux/amd64"}
            return aiohttp.web.json_response(version)
        return await super().__call__(raw_request)


def kubeconfig(url: str, token: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulated", "cluster": {"server": url}}],
            "users": [{"name": "portal", "user": {"token": token}}],
            "contexts": [{"name": "emulated", "context": {"cluster": "emulated", "user": "portal"}}],
            "current-context": "emulated",
        },
        indent=2,
    )


async def serve(port: int, config_path: Path) -> None:
    emulator = Emulator()
    emulator.namespaces = {}
    emulator.request_log = config_path.parent / "requests.log"
    emulator.resources.load_bundled()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with emulator, kmock.Server(emulator, host="127.0.0.1", port=port or None) as server:
        url = f"http://127.0.0.1:{server.port}"
        config_path.write_text(kubeconfig(url, secrets.token_hex(16)))
        print(f"emulated Kubernetes API on {url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.kubeconfig))


if __name__ == "__main__":
    main()
