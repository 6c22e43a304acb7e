"""Settings of the portal, all read from the environment once.

Every setting has a default that works on one machine (the embedded mode of `make run`); production behaviour is
switched on by environment variables. `ENV_VARS` lists every variable read here: the README and the compose file
are checked against it by the tests.
"""

import secrets
from pathlib import Path

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
    "files",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
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
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Research Platform Portal API",
    "DESCRIPTION": "Everything the portal's pages do: catalog, guides, resources. Authenticate with "
    "`Authorization: Token <token>` (get one from POST /api/v1/auth/token/).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
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

# Provisioning
# The server where `postgres-database` resources are made (default: the portal's own server).
PROVISIONING_POSTGRES_URL = (
    env.str("PROVISIONING_POSTGRES_URL", default="") or DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
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
# Host name in notebook addresses (where people's browsers reach this machine).
NOTEBOOK_PUBLIC_HOST = env.str("NOTEBOOK_PUBLIC_HOST", default="localhost")
# Address notebook servers listen on; 127.0.0.1 keeps them off the network (put a proxy in front to share).
NOTEBOOK_BIND_ADDRESS = env.str("NOTEBOOK_BIND_ADDRESS", default="127.0.0.1")
# Warn the owner this many minutes before an idle notebook is stopped.
NOTEBOOK_CULL_WARNING_MINUTES = env.int("NOTEBOOK_CULL_WARNING_MINUTES", default=10)
# How often the control loop polls what is in motion: being created, starting, running (seconds).
POLL_INTERVAL_SECONDS = env.int("POLL_INTERVAL_SECONDS", default=2)
# Warn an owner this many hours before their resource reaches its expiry date.
EXPIRY_WARNING_HOURS = env.int("EXPIRY_WARNING_HOURS", default=24)

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
# How long a notebook may wait for its pod before it fails (pulling big images takes minutes); the control loop checks.
KUBERNETES_START_TIMEOUT_SECONDS = env.int("KUBERNETES_START_TIMEOUT_SECONDS", default=900)
# How long a pod may stay unschedulable (no node with room or GPUs) before the request fails with that reason.
KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS = env.int("KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS", default=600)

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
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

ENV_VARS = frozenset(RecordingEnv.names)
