"""gunicorn settings for the console in production: `gunicorn console.wsgi` reads this file from the
working directory (or name it: `gunicorn -c gunicorn.conf.py console.wsgi`).

Measured with `python -m bench.console_load` (README, benchmarks). Every value can be overridden on
the command line or through GUNICORN_CMD_ARGS; the environment variables below are the usual knobs.
"""
import os

# Behind the reverse proxy that ends TLS; bind to a public address only for a direct test.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Threads, not async: the console is a synchronous Django app whose requests mostly wait on
# PostgreSQL, so a few threads per process overlap those waits at little memory; and in gthread the
# timeout below watches the worker process, not a single request, so a slow upload of an export
# or a long audit CSV download is not killed mid-stream as a sync worker's would be.
worker_class = "gthread"
# The CPUs this process may run on (a container's cpuset, not the host's count), plus one.
_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = int(os.environ.get("WEB_CONCURRENCY", str(_cpus + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A worker that does not check in for this long is killed and replaced (a stuck process, not a
# slow request: see above). The grace period lets requests in flight finish on a restart.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5

# Recycle each worker after about a thousand requests: pages that read Parquet and DuckDB leave
# their allocations behind; the jitter keeps workers from restarting together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = 100

# Heartbeat files in memory (a container's /tmp may be an overlay that stalls on fsync).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Logs to stdout/stderr for the service manager; the access log is off by default because the
# audit trail records every operator action (GUNICORN_ACCESS_LOG=- turns it on).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
