#!/bin/sh
# One image, three roles: web, worker, beat. Migrations and initial data run before the web server starts.
set -eu
role="${1:-web}"
case "$role" in
  web)
    python manage.py migrate --noinput
    python manage.py portal_setup
    exec gunicorn portal.wsgi:application --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${GUNICORN_WORKERS:-2}" --threads 4 --timeout 60 --access-logfile -
    ;;
  worker)
    exec celery -A portal worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${CELERY_WORKER_CONCURRENCY:-2}" --queues "${CELERY_QUEUES:-operations,control,previews}"
    ;;
  beat)
    exec celery -A portal beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /data/celerybeat-schedule
    ;;
  *)
    exec "$@"
    ;;
esac
