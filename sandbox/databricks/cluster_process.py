"""One sandbox cluster: a long-lived Python process that runs notebooks on its own local SparkSession.

Like a Databricks cluster, it keeps what it has imported: a library installed while it runs is
importable from then on, but a package already imported stays at its old version until the
cluster restarts (a new process). Internal to the sandbox: plain HTTP on loopback.

    python -m sandbox.databricks.cluster_process --port N
"""
from __future__ import annotations

import argparse
import sys
import threading
import traceback
from pathlib import Path

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.http import json_response


def _local_paths(parameters: dict, mounts: dict[str, Path]) -> dict:
    """Widget values that name a mounted path (/mnt/x, dbfs:/mnt/x, /dbfs/mnt/x) point at its local folder,
    the way DBFS's FUSE mount serves them on Databricks: local Spark reads and writes plain files."""
    translated = {}
    for name, value in parameters.items():
        for mount_point, folder in mounts.items():
            for prefix in (f"dbfs:{mount_point}", f"/dbfs{mount_point}", mount_point):
                if isinstance(value, str) and (value == prefix or value.startswith(prefix + "/")):
                    value = str(folder) + value[len(prefix):]
                    break
        translated[name] = value
    return translated


class Cluster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spark = None
        self.url_map = Map([Rule("/libraries", endpoint="libraries", methods=["POST"]),
                            Rule("/run", endpoint="run", methods=["POST"]),
                            Rule("/health", endpoint="health", methods=["GET"])])

    def spark(self):
        """The driver's SparkSession, started by the first run and kept, as on a warm cluster: a notebook
        finds it active before its first cell, as on Databricks."""
        if self._spark is None:
            from sandbox.notebook.spark import local_spark_session

            self._spark = local_spark_session("sandbox-cluster")
        return self._spark

    def libraries(self, request: Request) -> Response:
        for path in (request.get_json() or {}).get("paths", []):
            if path not in sys.path:
                sys.path.insert(0, path)
        return json_response({"sys_path": [p for p in sys.path if p.endswith(".whl")]})

    def run(self, request: Request) -> Response:
        from sandbox.notebook.runner import LocalRuntime, NotebookFailed

        body = request.get_json() or {}
        mounts = {k: Path(v) for k, v in (body.get("mounts") or {}).items()}
        with self._lock:  # one notebook at a time, as one driver REPL
            runtime = LocalRuntime(self.spark(), secrets=body.get("secrets") or {}, mounts=mounts,
                                   dbfs_root=Path(body["dbfs_root"]),
                                   mount_root=Path(body["mount_root"]) if body.get("mount_root") else None,
                                   mount_sources=body.get("mount_sources") or {})
            answer = {}
            try:
                result = runtime.run(Path(body["notebook"]), _local_paths(body.get("parameters") or {}, mounts))
                answer = {"exit_value": result.exit_value, "duration_s": result.duration_s}
            except NotebookFailed as failed:
                answer = {"error": str(failed), "error_trace": "".join(traceback.format_exception(failed.error))}
            except Exception as error:  # the runtime itself failed: report, stay up
                answer = {"error": f"{type(error).__name__}: {error}", "error_trace": traceback.format_exc()}
            answer.update(created_mounts=runtime.fs.created_mounts, removed_mounts=runtime.fs.removed_mounts)
        return json_response(answer)

    def health(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    def __call__(self, environ, start_response):
        request = Request(environ)
        endpoint, args = self.url_map.bind_to_environ(environ).match()
        return getattr(self, endpoint)(request, **args)(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    make_server("127.0.0.1", args.port, Cluster(), threaded=True).serve_forever()


if __name__ == "__main__":
    main()
