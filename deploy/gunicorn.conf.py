"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py` (systemd: deploy/systemd/,
containers: deploy/compose.yaml). Every setting can be changed by the environment named beside it.

The app is loaded once in the master (preload), so its start-up checks (in production: the schema is at
the newest migration, else it stops naming `zhaoshang db upgrade`) run once and not in every worker;
each worker then opens its own database connections. Metrics of all workers are added up through
PROMETHEUS_MULTIPROC_DIR (a folder emptied at start).
"""
import multiprocessing
import os
import shutil
from pathlib import Path

wsgi_app = "webapp:create_app()"
bind = os.environ.get("ZS_BIND", "127.0.0.1:8000")
# Engine steps and PDF generation are CPU-bound: a few processes, each with a few threads for the
# requests that wait on the database.
workers = int(os.environ.get("ZS_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("ZS_THREADS", 2))
timeout = int(os.environ.get("ZS_WORKER_TIMEOUT", 120))  # a large PDF report may take a while
graceful_timeout = 30
keepalive = 5
# Workers are recycled now and then, so a slow leak never grows for months.
max_requests = 2000
max_requests_jitter = 200
preload_app = True
# The app writes one JSON line per request itself (request id, endpoint, duration); gunicorn's own
# messages go to standard error (journald or the container log).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("ZS_LOG_LEVEL", "info")
# X-Forwarded-Proto is believed only from the proxy on this machine (deploy/nginx/zhaoshang.conf).
forwarded_allow_ips = os.environ.get("ZS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "zhaoshang-web"

# Emptied here, when the master reads this file: before the (preloaded) app creates its metrics.
_metrics_dir = Path(os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.environ.get("RUNTIME_DIRECTORY", "/tmp"), "zhaoshang-metrics")))
shutil.rmtree(_metrics_dir, ignore_errors=True)
_metrics_dir.mkdir(parents=True, exist_ok=True)


def post_fork(server, worker):
    # The master opened database connections while starting: each worker gets its own pool.
    from workflows import db

    db.engine().dispose(close=False)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
